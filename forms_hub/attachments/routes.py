"""Uploading, listing, downloading and removing a submission's files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import JSONResponse, Response

from forms_hub.access import CurrentResident, CurrentStaff
from forms_hub.attachments.models import Attachment
from forms_hub.attachments.service import add_attachment, describe, get_attachment, remove_attachment
from forms_hub.errors import AttachmentTooLarge
from forms_hub.hub import FormsHub, HubDep
from forms_hub.submissions import service as submissions
from kit.runtime import DbSession

router = APIRouter(tags=["attachments"])


def read_upload(request: Request, upload: UploadFile, hub: FormsHub) -> bytes:
    """The upload's bytes, refusing more than the hub's overall limit without reading on."""
    limit = hub.config.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise AttachmentTooLarge(f"The upload is larger than {limit // (1024 * 1024)} MB.")
    upload.file.seek(0)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise AttachmentTooLarge(f"The upload is larger than {limit // (1024 * 1024)} MB.")
    return data


def file_response(hub: FormsHub, attachment: Attachment) -> Response:
    # Served as a download with its sniffed type; nosniff and a sandboxing CSP so a file
    # can never run as a page of the hub's origin.
    return Response(
        hub.storage.get(attachment.storage_key),
        media_type=attachment.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.post("/api/submissions/{submission_id}/attachments", status_code=201)
def upload(
    submission_id: str,
    request: Request,
    name: Annotated[str, Form(max_length=64, description="The definition's attachment name")],
    file: Annotated[UploadFile, File()],
    resident: CurrentResident,
    hub: HubDep,
    db: DbSession,
) -> JSONResponse:
    data = read_upload(request, file, hub)
    now = hub.now()
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    attachment = add_attachment(db, hub, submission, name, file.filename, data, now)
    return JSONResponse(describe(attachment), status_code=201)


@router.get("/api/submissions/{submission_id}/attachments/{attachment_id}")
def download(
    submission_id: str, attachment_id: str, resident: CurrentResident, hub: HubDep, db: DbSession
) -> Response:
    submission = submissions.get_own(db, resident, submission_id, hub.now())
    return file_response(hub, get_attachment(db, submission, attachment_id))


@router.delete("/api/submissions/{submission_id}/attachments/{attachment_id}", status_code=204)
def remove(
    submission_id: str, attachment_id: str, resident: CurrentResident, hub: HubDep, db: DbSession
) -> Response:
    now = hub.now()
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    remove_attachment(db, hub, submission, attachment_id, now)
    return Response(status_code=204)


@router.get("/api/department/submissions/{reference}/attachments/{attachment_id}", tags=["department"])
def department_download(
    reference: str, attachment_id: str, staff: CurrentStaff, hub: HubDep, db: DbSession
) -> Response:
    submission = submissions.get_for_department(db, staff, reference)
    return file_response(hub, get_attachment(db, submission, attachment_id))
