"""A submission's files: attached while it may still change (checked by
:mod:`forms_hub.attachments`), fetched by the resident or the department, removed only while
it is a draft."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from forms_hub.attachments.models import Attachment
from forms_hub.attachments.service import accept, get_attachment
from forms_hub.attachments.storage import AttachmentStorage
from forms_hub.definitions.service import document_of
from forms_hub.errors import Conflict
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import definition_of, ensure_editable
from kit.i18n import N_


def add_attachment(
    db: Session,
    storage: AttachmentStorage,
    submission: Submission,
    slot_name: str,
    filename: str | None,
    data: bytes,
    now: datetime,
    *,
    max_image_pixels: int,
) -> Attachment:
    """Raises AttachmentRejected / AttachmentTooLarge (nothing stored) or Conflict."""
    ensure_editable(submission, now)
    doc = document_of(definition_of(db, submission))
    attachment = accept(
        db, storage, doc, submission.id, slot_name, filename, data, now, max_image_pixels=max_image_pixels
    )
    submission.updated_at = now
    db.flush()
    return attachment


def attachment_of(db: Session, submission: Submission, attachment_id: str) -> Attachment:
    """Raises NotFound (not this submission's)."""
    return get_attachment(db, submission.id, attachment_id)


def remove_attachment(
    db: Session, storage: AttachmentStorage, submission: Submission, attachment_id: str, now: datetime
) -> None:
    ensure_editable(submission, now)
    attachment = attachment_of(db, submission, attachment_id)
    if submission.status != "draft":
        # Files the department already received stay part of the record.
        raise Conflict(N_("Files already sent to the department cannot be removed."))
    db.delete(attachment)
    submission.updated_at = now
    db.flush()
    storage.delete(attachment.storage_key)
