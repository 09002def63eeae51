"""The forms list: every published form, the hub's home page."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from forms_hub.definitions import repository as definitions
from forms_hub.definitions.service import document_of
from forms_hub.web.page_helpers import notice_text, page_router
from forms_hub.web.rendering import render
from kit.web import DbSession

router = page_router()


@router.get("/")
def index(request: Request, db: DbSession) -> Response:
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
                "min_identity_level": doc.min_identity_level,
            }
        )
    return render(request, "index.html", {"forms": forms, "notice_text": notice_text(request)})
