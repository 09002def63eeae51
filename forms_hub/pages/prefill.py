"""Prefill from the resident's identity: the page listing what would be filled (and, for a form
that needs one, that the identity level is asked for), the start of the authorization request
that asks the provider for those claims, and the page of a form whose identity level the
resident does not reach."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from forms_hub.access import SessionPrincipal, Visitor
from forms_hub.assurance import level_satisfies
from forms_hub.crypto import Sealer
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.service import document_of
from forms_hub.dependencies import AnswerSealer, Config, HubSite, Provider, RpKeys
from forms_hub.errors import FormsError
from forms_hub.oidc_client.service import PURPOSE_PREFILL
from forms_hub.pages.sign_in import start_authorization
from forms_hub.principals import Resident
from forms_hub.submissions import service as submissions
from forms_hub.submissions.models import Submission
from forms_hub.submissions.prefill import identity_request, prefill_rows
from forms_hub.submissions.records import definition_of
from forms_hub.views import submission_view
from forms_hub.web.page_helpers import (
    identity_level_page,
    page_router,
    refused,
    resident_post,
    sign_in_redirect,
    signed_in_resident,
)
from forms_hub.web.rendering import redirect, render
from kit.i18n import choose_language
from kit.web import DbSession, Now

router = page_router()


def _own_draft(
    request: Request,
    submission_id: str,
    visitor: SessionPrincipal | None,
    db: Session,
    sealer: Sealer,
    now: datetime,
) -> tuple[Submission, FormDocument, dict[str, Any]] | Response:
    """The signed-in resident's submission, its form's document and its view; or the page to
    answer instead (sign in, or the refusal)."""
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_own(db, resident, submission_id, now)
        doc = document_of(definition_of(db, submission))
        view = submission_view(db, sealer, submission, for_resident=True, with_details=False)
    except FormsError as exc:
        return refused(request, db, exc)
    return submission, doc, view


@router.get("/submissions/{submission_id}/prefill")
def prefill_page(
    request: Request, submission_id: str, visitor: Visitor, db: DbSession, sealer: AnswerSealer, now: Now
) -> Response:
    found = _own_draft(request, submission_id, visitor, db, sealer, now)
    if isinstance(found, Response):
        return found
    submission, doc, view = found
    rows = prefill_rows(doc, choose_language(request))
    return render(
        request,
        "prefill.html",
        {"doc": doc, "submission": view, "rows": rows, "level_needed": doc.min_identity_level},
    )


@router.get("/submissions/{submission_id}/identity-level")
def identity_level(
    request: Request, submission_id: str, visitor: Visitor, db: DbSession, sealer: AnswerSealer, now: Now
) -> Response:
    found = _own_draft(request, submission_id, visitor, db, sealer, now)
    if isinstance(found, Response):
        return found
    submission, doc, view = found
    required = doc.min_identity_level
    if required is None or level_satisfies(submission.identity_level, required):
        return redirect(f"/forms/submissions/{submission.id}/edit")
    return identity_level_page(request, required, submission.identity_level, view)


@router.post("/submissions/{submission_id}/prefill")
async def prefill_start(
    request: Request,
    submission_id: str,
    visitor: Visitor,
    db: DbSession,
    keys: RpKeys,
    provider: Provider,
    site: HubSite,
    config: Config,
    now: Now,
) -> Response:
    def start(db: Session, resident: Resident, now: datetime) -> Response:
        submission = submissions.get_own(db, resident, submission_id, now)
        if submission.status != "draft":
            return redirect(f"/forms/submissions/{submission.id}")
        claims = identity_request(document_of(definition_of(db, submission)))
        if not claims:
            return redirect(f"/forms/submissions/{submission_id}/edit")
        return start_authorization(
            request,
            db,
            keys,
            provider,
            site,
            config,
            now,
            purpose=PURPOSE_PREFILL,
            return_to=f"/forms/submissions/{submission_id}/edit",
            sub=resident.sub,
            submission_id=submission_id,
            claims=claims,
        )

    return await resident_post(request, db, visitor, now, start)
