"""Uploading, listing, downloading and removing a submission's files."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import JSONResponse, Response

from forms_hub.access import CurrentResident, CurrentStaff
from forms_hub.api.responses import RESIDENT_CHANGES, RESIDENT_READS, STAFF, with_refusals
from forms_hub.attachments.models import Attachment
from forms_hub.attachments.schemas import ATTACHMENT_MEDIA_TYPES, AttachmentOut
from forms_hub.attachments.service import describe, read_file
from forms_hub.attachments.storage import AttachmentStorage
from forms_hub.dependencies import Config, Storage
from forms_hub.errors import AttachmentTooLarge
from forms_hub.submissions import service as submissions
from forms_hub.submissions.files import add_attachment, attachment_of, remove_attachment
from kit.openapi import Responses, combine
from kit.web import DbSession, Now

router = APIRouter(tags=["attachments"])
FILE: Responses = {
    200: {
        "description": "The file, as a download, with the type sniffed from its content at upload",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in ATTACHMENT_MEDIA_TYPES
        },
    }
}


def read_upload(request: Request, upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, refusing more than ``limit`` (the hub's overall one) without
    reading on."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise AttachmentTooLarge(f"The upload is larger than {limit // (1024 * 1024)} MB.")
    upload.file.seek(0)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise AttachmentTooLarge(f"The upload is larger than {limit // (1024 * 1024)} MB.")
    return data


def file_response(storage: AttachmentStorage, attachment: Attachment) -> Response:
    # Served as a download with its sniffed type; nosniff and a sandboxing CSP so a file
    # can never run as a page of the hub's origin.
    return Response(
        read_file(storage, attachment),
        media_type=attachment.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/api/submissions/{submission_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409, 413, 422),
)
def upload(
    submission_id: str,
    request: Request,
    name: Annotated[str, Form(max_length=64, description="The definition's attachment name")],
    file: Annotated[UploadFile, File()],
    resident: CurrentResident,
    db: DbSession,
    config: Config,
    storage: Storage,
    now: Now,
) -> JSONResponse:
    data = read_upload(request, file, config.max_upload_bytes)
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    attachment = add_attachment(
        db, storage, submission, name, file.filename, data, now, max_image_pixels=config.max_image_pixels
    )
    return JSONResponse(describe(attachment), status_code=201)


@router.get(
    "/api/submissions/{submission_id}/attachments/{attachment_id}",
    response_class=Response,
    responses=combine(FILE, with_refusals(RESIDENT_READS, 404)),
)
def download(
    submission_id: str,
    attachment_id: str,
    resident: CurrentResident,
    db: DbSession,
    storage: Storage,
    now: Now,
) -> Response:
    submission = submissions.get_own(db, resident, submission_id, now)
    return file_response(storage, attachment_of(db, submission, attachment_id))


@router.delete(
    "/api/submissions/{submission_id}/attachments/{attachment_id}",
    status_code=204,
    response_class=Response,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409),
)
def remove(
    submission_id: str,
    attachment_id: str,
    resident: CurrentResident,
    db: DbSession,
    storage: Storage,
    now: Now,
) -> Response:
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    remove_attachment(db, storage, submission, attachment_id, now)
    return Response(status_code=204)


@router.get(
    "/api/department/submissions/{reference}/attachments/{attachment_id}",
    tags=["department"],
    response_class=Response,
    responses=combine(FILE, with_refusals(STAFF, 404)),
)
def department_download(
    reference: str, attachment_id: str, staff: CurrentStaff, db: DbSession, storage: Storage
) -> Response:
    submission = submissions.get_for_department(db, staff, reference)
    return file_response(storage, attachment_of(db, submission, attachment_id))
