"""The image of an identity card a resident uploads for remote proofing: checked, then kept
sealed at rest and shown only to registration officers.

Defends against:

* a file that is not the image it claims to be, or that is also a web page (a polyglot a
  viewer might render as markup): it must decode as a JPEG or PNG with Pillow, and carry no
  HTML or SVG markup;
* a decompression bomb: the declared size is checked against ``MAX_PIXELS`` before a pixel
  is decoded; the body itself is limited while it streams (``UPLOAD_ROUTES``,
  kit.request_guard);
* a copy of the disk or a backup: files are sealed with :mod:`kit.file_sealing` under a key
  derived from the master secret, named at random, and checked against the digest recorded
  on the proofing before they are served.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from kit.file_sealing import FileSealer, SealedFileError
from kit.request_guard import UploadRoute
from kit.sealing import derive_key

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MULTIPART_OVERHEAD_BYTES = 16 * 1024
MAX_PIXELS = 25_000_000
MIN_WIDTH, MIN_HEIGHT = 320, 200  # smaller than this and the card cannot be read
MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
SEAL_CONTEXT = "identity/proofing-evidence"
WRAPPING_KEY_ID = "e1"
# The only identity route that takes a multipart body (kit.request_guard refuses the others).
UPLOAD_ROUTES = [
    UploadRoute("POST", r"/account/identity/evidence", MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES)
]

_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{30}")
_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|svg|img|iframe|object|embed|form|meta)[\s/>]",
    re.IGNORECASE,
)


class EvidenceRefused(Exception):
    """Why an upload was refused: a message code (identity/web/messages.py)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class EvidenceDamaged(Exception):
    """The stored file does not open or does not match its recorded digest. Never served."""


def inspect_image(data: bytes, media_type: str) -> str:
    """The media type the image really is (``image/jpeg`` or ``image/png``), whatever the
    browser declared (``media_type`` is only a hint).

    Raises:
        EvidenceRefused: empty, too large, not a JPEG or PNG, damaged, too many or too few
            pixels, or carrying markup.
    """
    del media_type  # the bytes decide, not the browser
    if not data:
        raise EvidenceRefused("evidence.required")
    if len(data) > MAX_UPLOAD_BYTES:
        raise EvidenceRefused("evidence.too_large")
    if _MARKUP.search(data):
        raise EvidenceRefused("evidence.not_image")
    try:
        with Image.open(io.BytesIO(data), formats=list(MEDIA_TYPES.values())) as image:
            found = image.format
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise EvidenceRefused("evidence.too_many_pixels")
            image.verify()
        with Image.open(io.BytesIO(data), formats=list(MEDIA_TYPES.values())) as image:
            image.load()
    except Image.DecompressionBombError:
        raise EvidenceRefused("evidence.too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        # Pillow reports damaged, truncated or unrecognised data through all of these.
        raise EvidenceRefused("evidence.not_image") from None
    if min(width, height) < MIN_HEIGHT or max(width, height) < MIN_WIDTH:
        raise EvidenceRefused("evidence.too_small")
    return next(kind for kind, pil_format in MEDIA_TYPES.items() if pil_format == found)


@dataclass(frozen=True)
class StoredEvidence:
    key: str
    sha256: str


class EvidenceStore:
    """Sealed files under ``root``, named at random (the name says nothing of the file)."""

    def __init__(self, root: Path, sealer: FileSealer, *, fsync: bool = True) -> None:
        self.root = root
        self.sealer = sealer
        self.fsync = fsync

    @classmethod
    def build(cls, data_dir: Path, master_key: bytes) -> EvidenceStore:
        key = derive_key(master_key, "proofing-evidence-keys/v1")
        return cls(data_dir / "identity-evidence", FileSealer({WRAPPING_KEY_ID: key}, WRAPPING_KEY_ID))

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise EvidenceDamaged("malformed storage key")
        return self.root / key

    def put(self, data: bytes) -> StoredEvidence:
        """Seal and store ``data`` durably (fsynced before the row naming it is committed: a
        crash in between leaves only an unreferenced file)."""
        key = f"{secrets.token_hex(1)}/{secrets.token_hex(15)}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        sealed = self.sealer.seal(data, context=SEAL_CONTEXT)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return StoredEvidence(key, hashlib.sha256(data).hexdigest())

    def get(self, key: str, sha256: str) -> bytes:
        """Raises EvidenceDamaged when the file is missing, does not open or is not the one
        recorded."""
        try:
            data = self.sealer.open(self._path(key).read_bytes(), context=SEAL_CONTEXT)
        except (OSError, SealedFileError):
            raise EvidenceDamaged("the evidence file does not open") from None
        if not secrets.compare_digest(hashlib.sha256(data).hexdigest(), sha256):
            raise EvidenceDamaged("the evidence file is not the one recorded")
        return data
