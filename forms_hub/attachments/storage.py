"""Where attachment bytes live, behind an interface (STYLE.md: Warehouse's interfaces): the
local filesystem by default, an object store later without touching the callers."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from kit.settings import Settings

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{14}-[0-9a-f]{16}$")


class AttachmentStorage(Protocol):
    def put(self, data: bytes, sha256: str) -> str:
        """Store ``data`` durably before returning its storage key (a submission that got a
        reference number must not lose a file to a crash)."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class FilesystemStorage:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("malformed storage key")
        return self.root / key

    def put(self, data: bytes, sha256: str) -> str:
        # Written under its final, random name and fsynced before the database row that
        # names it is committed: a crash in between leaves only an unreferenced file.
        key = f"{sha256[:2]}/{sha256[2:16]}-{secrets.token_hex(8)}"
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

    def put(self, data: bytes, sha256: str) -> str:
        key = f"{sha256[:2]}/{sha256[2:16]}-{secrets.token_hex(8)}"
        self.files[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.files[key]

    def delete(self, key: str) -> None:
        self.files.pop(key, None)


def storage_for(settings: Settings) -> AttachmentStorage:
    """The operator's storage: files under the data directory."""
    return FilesystemStorage(settings.data_dir / "forms" / "attachments")
