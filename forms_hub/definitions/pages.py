"""The forms list: every published form, the hub's home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from forms_hub.definitions import repository as definitions
from forms_hub.definitions.service import document_of
from forms_hub.hub import get_hub
from forms_hub.web.page_helpers import notice_text
from forms_hub.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def index(request: Request) -> Response:
    hub = get_hub(request)
    with hub.runtime.sessions() as db:
        forms = []
        for definition in definitions.list_published(db):
            doc = document_of(definition)
            forms.append(
                {
                    "slug": definition.slug,
                    "title": doc.title,
                    "department_name": doc.raw["department_name"],
                    "description": doc.raw.get("description"),
                    "licence": definition.is_licence,
                }
            )
    return render(request, "index.html", {"forms": forms, "notice_text": notice_text(request)})
