"""Accepting a file for one of a form's attachment slots: the type is decided by the file's
content (its magic bytes) and must also agree with the file name's extension, the file must
decode as that type and carry nothing active (:mod:`forms_hub.attachments.inspection`), the
size is checked against the definition, and the SHA-256 is kept (it goes into the receipt
and is checked again each time the file is read back).

Whether the submission may still take files is the submissions' rule
(:mod:`forms_hub.submissions.files`); this module knows only files and slots."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.attachments import repository as attachments
from forms_hub.attachments.inspection import FileRefused, inspect
from forms_hub.attachments.models import Attachment
from forms_hub.attachments.sniff import EXTENSIONS, extension_matches, sniff
from forms_hub.attachments.storage import AttachmentStorage, StoredFileDamaged
from forms_hub.definitions.document import FormDocument
from forms_hub.errors import AttachmentRejected, AttachmentTooLarge, NotFound
from kit.i18n import N_, bilingual

_UNSAFE_NAME = re.compile(r"[^\w.\- ()\u3400-\u9fff]+")
TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
}


def _rejected(
    slot: str, template: str, values: dict[str, Any] | None = None, **extensions: Any
) -> AttachmentRejected:
    """The refusal of a file for ``slot``: ``template`` a msgid with ``{name}`` placeholders
    (the API's ``detail`` in English, its ``message`` in both languages)."""
    message = bilingual(template, **(values or {}))
    return AttachmentRejected(message["en"], field=slot, message=message, **extensions)


def clean_filename(name: str | None) -> str:
    base = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .") or "file"
    return base[-200:]


def accept(
    db: Session,
    storage: AttachmentStorage,
    doc: FormDocument,
    submission_id: str,
    slot_name: str,
    filename: str | None,
    data: bytes,
    now: datetime,
    *,
    max_image_pixels: int,
) -> Attachment:
    """Store the file and add its row (not flushed).

    Raises AttachmentRejected / AttachmentTooLarge (nothing stored)."""
    slot = doc.attachment(slot_name)
    if slot is None:
        raise _rejected(slot_name, N_("This form has no attachment called {name}."), {"name": slot_name})
    if len(data) > slot["max_bytes"]:
        size = f"{slot['max_bytes'] // 1024} KB"
        raise AttachmentTooLarge(
            f"The file is larger than {size}.",
            field=slot_name,
            max_bytes=slot["max_bytes"],
            message=bilingual(N_("The file must be {size} or smaller"), size=size),
        )
    if not data:
        raise _rejected(slot_name, N_("The file is empty."))
    allowed = ", ".join(TYPE_NAMES[t] for t in slot["types"])
    media_type = sniff(data[:16])
    if media_type is None or media_type not in slot["types"]:
        raise _rejected(
            slot_name,
            N_("The file's content is not an allowed type (allowed: {allowed})."),
            {"allowed": allowed},
            allowed=slot["types"],
        )
    name = clean_filename(filename)
    if not extension_matches(name, media_type):
        endings = " or ".join(EXTENSIONS[media_type])
        raise _rejected(
            slot_name,
            N_("The file's content is {kind} but its name does not end in {endings}."),
            {"kind": TYPE_NAMES[media_type], "endings": endings},
        )
    try:
        inspect(data, media_type, max_image_pixels=max_image_pixels)
    except FileRefused as refused:
        raise _rejected(slot_name, refused.message, refused.values) from None
    existing = [a for a in attachments.of_submission(db, submission_id) if a.slot == slot_name]
    limit = slot.get("max_files", 1)
    if len(existing) >= limit:
        raise _rejected(
            slot_name, N_("At most {limit} file(s) can be attached here; remove one first."), {"limit": limit}
        )
    digest = hashlib.sha256(data).hexdigest()
    key = storage.put(data)
    attachment = Attachment(
        id=uuid.uuid4().hex,
        submission_id=submission_id,
        slot=slot_name,
        filename=name,
        media_type=media_type,
        size=len(data),
        sha256=digest,
        storage_key=key,
        uploaded_at=now,
    )
    db.add(attachment)
    return attachment


def get_attachment(db: Session, submission_id: str, attachment_id: str) -> Attachment:
    attachment = attachments.get(db, attachment_id) if attachment_id and len(attachment_id) <= 32 else None
    if attachment is None or attachment.submission_id != submission_id:
        raise NotFound(N_("No such attachment."))
    return attachment


def read_file(storage: AttachmentStorage, attachment: Attachment) -> bytes:
    """The file's bytes, only if they are the ones accepted (the digest in its row): a file
    altered on disk, or another file put in its place, is never served.

    Raises StoredFileDamaged."""
    data = storage.get(attachment.storage_key)
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), attachment.sha256):
        raise StoredFileDamaged(N_("The stored file is damaged."))
    return data


def describe(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "name": attachment.slot,
        "filename": attachment.filename,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": attachment.uploaded_at.isoformat(),
    }
