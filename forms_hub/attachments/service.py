"""Accepting a file for a submission: the type is decided by the file's content (its magic
bytes) and must also agree with the file name's extension, the size is checked against the
definition, and the SHA-256 is kept (it goes into the receipt)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from forms_hub.attachments import repository as attachments
from forms_hub.attachments.models import Attachment
from forms_hub.attachments.sniff import EXTENSIONS, extension_matches, sniff
from forms_hub.definitions.service import document_of
from forms_hub.errors import AttachmentRejected, AttachmentTooLarge, Conflict, NotFound
from forms_hub.hub import FormsHub
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import definition_of, ensure_editable

_UNSAFE_NAME = re.compile(r"[^\w.\- ()\u3400-\u9fff]+")
TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
}


def _rejected(slot: str, en: str, zh: str, **extensions: object) -> AttachmentRejected:
    return AttachmentRejected(en, field=slot, message={"en": en, "zh-HK": zh}, **extensions)


def clean_filename(name: str | None) -> str:
    base = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .") or "file"
    return base[-200:]


def add_attachment(
    db: Session,
    hub: FormsHub,
    submission: Submission,
    slot_name: str,
    filename: str | None,
    data: bytes,
    now: datetime,
) -> Attachment:
    """Raises AttachmentRejected / AttachmentTooLarge (nothing stored) or Conflict."""
    ensure_editable(submission, now)
    doc = document_of(definition_of(db, submission))
    slot = doc.attachment(slot_name)
    if slot is None:
        raise _rejected(
            slot_name, f"This form has no attachment called {slot_name!r}.", "此表格沒有這項附件。"
        )
    if len(data) > slot["max_bytes"]:
        size = f"{slot['max_bytes'] // 1024} KB"
        raise AttachmentTooLarge(
            f"The file is larger than {size}.",
            field=slot_name,
            max_bytes=slot["max_bytes"],
            message={"en": f"The file must be {size} or smaller", "zh-HK": f"檔案不可大於 {size}"},
        )
    if not data:
        raise _rejected(slot_name, "The file is empty.", "檔案是空的。")
    allowed = ", ".join(TYPE_NAMES[t] for t in slot["types"])
    media_type = sniff(data[:16])
    if media_type is None or media_type not in slot["types"]:
        raise _rejected(
            slot_name,
            f"The file's content is not an allowed type (allowed: {allowed}).",
            f"檔案內容不是接受的格式（接受：{allowed}）。",
            allowed=slot["types"],
        )
    name = clean_filename(filename)
    if not extension_matches(name, media_type):
        endings = " or ".join(EXTENSIONS[media_type])
        raise _rejected(
            slot_name,
            f"The file's content is {TYPE_NAMES[media_type]} but its name does not end in {endings}.",
            f"檔案內容是 {TYPE_NAMES[media_type]}，但檔名並非以 {endings} 結尾。",
        )
    existing = [a for a in attachments.of_submission(db, submission.id) if a.slot == slot_name]
    limit = slot.get("max_files", 1)
    if len(existing) >= limit:
        raise _rejected(
            slot_name,
            f"At most {limit} file(s) can be attached here; remove one first.",
            f"此項最多只可附上 {limit} 個檔案，請先移除一個。",
        )
    digest = hashlib.sha256(data).hexdigest()
    key = hub.storage.put(data, digest)
    attachment = Attachment(
        id=uuid.uuid4().hex,
        submission_id=submission.id,
        slot=slot_name,
        filename=name,
        media_type=media_type,
        size=len(data),
        sha256=digest,
        storage_key=key,
        uploaded_at=now,
    )
    db.add(attachment)
    submission.updated_at = now
    db.flush()
    return attachment


def get_attachment(db: Session, submission: Submission, attachment_id: str) -> Attachment:
    attachment = attachments.get(db, attachment_id) if attachment_id and len(attachment_id) <= 32 else None
    if attachment is None or attachment.submission_id != submission.id:
        raise NotFound("No such attachment.")
    return attachment


def remove_attachment(
    db: Session, hub: FormsHub, submission: Submission, attachment_id: str, now: datetime
) -> None:
    ensure_editable(submission, now)
    attachment = get_attachment(db, submission, attachment_id)
    if submission.status != "draft":
        # Files the department already received stay part of the record.
        raise Conflict("Files already sent to the department cannot be removed.")
    db.delete(attachment)
    submission.updated_at = now
    db.flush()
    hub.storage.delete(attachment.storage_key)


def describe(attachment: Attachment) -> dict:
    return {
        "id": attachment.id,
        "name": attachment.slot,
        "filename": attachment.filename,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": attachment.uploaded_at.isoformat(),
    }
