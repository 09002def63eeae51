"""A resident's attachments on the form page: download one, remove one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from forms_hub.attachments.routes import file_response
from forms_hub.attachments.service import get_attachment, remove_attachment
from forms_hub.errors import FormsError
from forms_hub.hub import get_hub
from forms_hub.submissions import service as submissions
from forms_hub.web.page_helpers import failure_page, resident_post, sign_in_redirect, signed_in_resident

router = APIRouter(include_in_schema=False)


@router.post("/submissions/{submission_id}/attachments/{attachment_id}/delete")
async def remove_attachment_page(request: Request, submission_id: str, attachment_id: str) -> Response:
    return await resident_post(
        request,
        lambda db, hub, resident, now: remove_attachment(
            db, hub, submissions.get_own(db, resident, submission_id, now, lock=True), attachment_id, now
        ),
        f"/forms/submissions/{submission_id}/edit?notice=removed",
    )


@router.get("/submissions/{submission_id}/attachments/{attachment_id}")
def download_page(request: Request, submission_id: str, attachment_id: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            return file_response(hub, get_attachment(db, submission, attachment_id))
    except FormsError as exc:
        return failure_page(request, exc)
