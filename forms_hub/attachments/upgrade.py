"""The one-off upgrade of files stored before attachments were sealed at rest.

Chosen over reading both formats for ever: an unsealed file left on disk is exactly what
finding 8 was about. Until the command has run, such files are still served (they carry no
seal marker, and every file read is checked against its recorded digest), so upgrading
needs no downtime; the command is idempotent and commits per batch, so it can be
interrupted and run again."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms_hub.attachments.models import Attachment
from forms_hub.attachments.storage import SealedStorage, StoredFileDamaged


def _batches(sessions: Callable[[], Session], batch_size: int) -> Iterator[tuple[Session, list[Attachment]]]:
    after = ""
    while True:
        with sessions() as db:
            rows = list(
                db.scalars(
                    select(Attachment).where(Attachment.id > after).order_by(Attachment.id).limit(batch_size)
                )
            )
            if not rows:
                return
            yield db, rows
            after = rows[-1].id


def seal_legacy_files(
    sessions: Callable[[], Session], storage: SealedStorage, *, batch_size: int = 200
) -> int:
    """Seal every attachment stored in clear; the number sealed.

    Each file is sealed under a new storage key, the row is pointed at it and committed,
    and only then is the clear file deleted: a crash leaves at worst an unreferenced file,
    never a row without its file.

    Raises StoredFileDamaged when a clear file does not match its recorded digest (it is
    left as it is, for the operator to look at)."""
    sealed = 0
    for db, rows in _batches(sessions, batch_size):
        retired: list[str] = []
        for row in rows:
            if storage.is_sealed(row.storage_key):
                continue
            data = storage.inner.get(row.storage_key)
            if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), row.sha256):
                raise StoredFileDamaged(f"attachment {row.id} does not match its recorded digest")
            retired.append(row.storage_key)
            row.storage_key = storage.put(data)
        db.commit()
        for key in retired:
            storage.delete(key)
        sealed += len(retired)
    return sealed
