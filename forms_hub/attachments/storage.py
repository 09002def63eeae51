"""Where attachment bytes live, behind an interface (STYLE.md: Warehouse's interfaces): the
local filesystem by default, an object store later without touching the callers.

Every file is sealed before it reaches a store (:class:`SealedStorage`, over
:mod:`kit.file_sealing`): a copy of the disk, a backup or an object-store bucket holds only
ciphertext. Files stored before sealing existed carry no seal marker; they are still read
(so an upgrade needs no downtime) and ``egate forms seal-attachments`` seals them in place
(:func:`forms_hub.attachments.upgrade.seal_legacy_files`)."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from forms_hub.crypto import derive_key
from forms_hub.errors import FormsError
from kit.file_sealing import FileSealer, SealedFileError, is_sealed_file
from kit.i18n import N_
from kit.settings import Settings

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{14}-[0-9a-f]{16}$")
# The associated data of every attachment: a file sealed by another store does not open here.
SEAL_CONTEXT = "forms-hub/attachment"
WRAPPING_KEY_ID = "a1"


class StoredFileDamaged(FormsError):
    """The stored file does not open or does not match its recorded digest: altered on disk,
    or swapped with another. Never served."""

    status, code, title = 500, "attachment_damaged", "The stored file is damaged"


class AttachmentStorage(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` durably before returning its storage key (a submission that got a
        reference number must not lose a file to a crash)."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def new_storage_key() -> str:
    """Random: unlike a content digest, the name says nothing about the file."""
    return f"{secrets.token_hex(1)}/{secrets.token_hex(7)}-{secrets.token_hex(8)}"


class FilesystemStorage:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("malformed storage key")
        return self.root / key

    def put(self, data: bytes) -> str:
        # Written under its final, random name and fsynced before the database row that
        # names it is committed: a crash in between leaves only an unreferenced file.
        key = new_storage_key()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return key

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class MemoryStorage:
    """For tests and benchmarks that must not touch the disk."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = new_storage_key()
        self.files[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.files[key]

    def delete(self, key: str) -> None:
        self.files.pop(key, None)


class SealedStorage:
    """An AttachmentStorage that seals what it is given before the inner store sees it."""

    def __init__(self, inner: AttachmentStorage, sealer: FileSealer) -> None:
        self.inner = inner
        self.sealer = sealer

    def put(self, data: bytes) -> str:
        return self.inner.put(self.sealer.seal(data, context=SEAL_CONTEXT))

    def get(self, key: str) -> bytes:
        """The plaintext. A file without the seal marker was stored before sealing and is
        returned as it is; callers check every file against its recorded digest.

        Raises:
            StoredFileDamaged: a sealed file that does not open.
        """
        stored = self.inner.get(key)
        if not is_sealed_file(stored):
            return stored
        try:
            return self.sealer.open(stored, context=SEAL_CONTEXT)
        except SealedFileError:
            raise StoredFileDamaged(N_("The stored file is damaged.")) from None

    def is_sealed(self, key: str) -> bool:
        return is_sealed_file(self.inner.get(key))

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def attachment_sealer(master_key: bytes) -> FileSealer:
    return FileSealer({WRAPPING_KEY_ID: derive_key(master_key, "attachment-keys/v1")}, WRAPPING_KEY_ID)


def sealed(inner: AttachmentStorage, master_key: bytes) -> SealedStorage:
    return SealedStorage(inner, attachment_sealer(master_key))


def storage_for(settings: Settings) -> AttachmentStorage:
    """The operator's storage: files under the data directory (sealed by the caller, see
    :func:`sealed`)."""
    return FilesystemStorage(settings.data_dir / "forms" / "attachments")
