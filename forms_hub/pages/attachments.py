"""A resident's attachments on the form page: download one, remove one."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from forms_hub.access import Visitor
from forms_hub.api.attachments import file_response
from forms_hub.dependencies import Storage
from forms_hub.errors import FormsError
from forms_hub.principals import Resident
from forms_hub.submissions import service as submissions
from forms_hub.submissions.files import attachment_of, remove_attachment
from forms_hub.web.page_helpers import (
    page_router,
    refused,
    resident_post,
    sign_in_redirect,
    signed_in_resident,
)
from kit.web import DbSession, Now

router = page_router()


@router.post("/submissions/{submission_id}/attachments/{attachment_id}/delete")
async def remove_attachment_page(
    request: Request,
    submission_id: str,
    attachment_id: str,
    visitor: Visitor,
    db: DbSession,
    storage: Storage,
    now: Now,
) -> Response:
    def remove(db: Session, resident: Resident, now: datetime) -> None:
        submission = submissions.get_own(db, resident, submission_id, now, lock=True)
        remove_attachment(db, storage, submission, attachment_id, now)

    return await resident_post(
        request, db, visitor, now, remove, f"/forms/submissions/{submission_id}/edit?notice=removed"
    )


@router.get("/submissions/{submission_id}/attachments/{attachment_id}")
def download_page(
    request: Request,
    submission_id: str,
    attachment_id: str,
    visitor: Visitor,
    db: DbSession,
    storage: Storage,
    now: Now,
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_own(db, resident, submission_id, now)
        return file_response(storage, attachment_of(db, submission, attachment_id))
    except FormsError as exc:
        return refused(request, db, exc)
