"""Files sealed at rest: AES-256-GCM in chunks under a random per-file key.

Defends against a copy of the disk or of a backup (the files are unreadable without the
master secret) and against anyone who can write to it: a chunk altered, dropped, repeated,
moved within the file or taken from another file, a file cut short at a chunk boundary, or
a file opened for another context all fail to open. It does not hide a file's approximate
size.

Layout (all integers big-endian)::

    magic (8) | version (1) | chunk size (4) | key id length (1) | key id
              | wrapped key length (1) | wrapped key | chunk 0 | chunk 1 | ... | chunk n

* The file key is 32 random bytes, made for this one file and never reused; it is stored
  wrapped (:func:`kit.sealing.seal_bytes`) under the named wrapping key, which a service
  derives from the master secret. Rewrapping a file under a new wrapping key rewrites only
  this header (:meth:`FileSealer.rewrap`); the chunks stay as they are.
* Every chunk holds ``chunk size`` bytes of plaintext except the last, which holds the rest
  (possibly nothing) and is flagged final. Each is ``AES-256-GCM(file key, nonce, chunk)``
  with its 16-byte tag. The nonce is the chunk's index (11 bytes) and the final flag (1
  byte): the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, "Online
  Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015), which is
  safe because the key seals one file only. The associated data carries the same index and
  flag, the format and chunk size, and the caller's context (e.g. which store the file
  belongs to).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kit.sealing import KEY_BYTES, TAG_BYTES, FieldDecryptionError, open_bytes, seal_bytes

__all__ = ["DEFAULT_CHUNK_BYTES", "MAGIC", "FileSealer", "SealedFileError", "is_sealed_file"]

# Not a prefix of any format a service accepts as a plaintext file (PDF, PNG, JPEG, GIF,
# WebP all begin otherwise), so a sealed file and a file written before sealing existed are
# told apart by their first bytes.
MAGIC = b"\x89EGSEAL\n"
_VERSION = 1
DEFAULT_CHUNK_BYTES = 64 * 1024
_MIN_CHUNK_BYTES = 1024
_MAX_CHUNK_BYTES = 16 * 1024 * 1024
_KEY_ID_RE = re.compile(rb"[A-Za-z0-9_-]{1,32}")
_FIXED = struct.Struct(">8sBIB")  # magic, version, chunk size, key id length


class SealedFileError(Exception):
    """Not a sealed file, an unknown wrapping key, or a file that fails authentication
    (tampered with, reordered, truncated, another key or another context). Carries no data."""


def is_sealed_file(data: bytes) -> bool:
    """True when ``data`` begins as a sealed file does (says nothing of its integrity)."""
    return data.startswith(MAGIC)


class FileSealer:
    """Seals and opens whole files under per-file keys wrapped by a ring of numbered keys.

    ``wrapping_keys`` maps key id -> 32-byte key; new files are wrapped under
    ``active_key_id``; the others stay to open older files until :meth:`rewrap` has moved
    each of them.
    """

    def __init__(
        self,
        wrapping_keys: Mapping[str, bytes],
        active_key_id: str,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        if active_key_id not in wrapping_keys:
            raise ValueError("active key id is not in the ring")
        for key_id, key in wrapping_keys.items():
            if not _KEY_ID_RE.fullmatch(key_id.encode("ascii", "replace")):
                raise ValueError(f"invalid key id {key_id!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"wrapping key {key_id!r} must be {KEY_BYTES} bytes")
        if not _MIN_CHUNK_BYTES <= chunk_bytes <= _MAX_CHUNK_BYTES:
            raise ValueError("chunk size out of range")
        self._wrapping_keys = dict(wrapping_keys)
        self._active_key_id = active_key_id
        self._chunk_bytes = chunk_bytes

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        if not context:
            raise ValueError("context must not be empty")
        file_key = os.urandom(KEY_BYTES)
        aead = AESGCM(file_key)
        size = self._chunk_bytes
        parts = [self._header(self._active_key_id, file_key, size, context)]
        last = max(0, (len(plaintext) - 1) // size)
        for index in range(last + 1):
            chunk = plaintext[index * size : (index + 1) * size]
            final = index == last
            parts.append(aead.encrypt(_nonce(index, final), chunk, _chunk_aad(size, context, index, final)))
        return b"".join(parts)

    def open(self, sealed: bytes, *, context: str) -> bytes:
        """The plaintext of :meth:`seal`'s output for the same ``context``.

        Raises:
            SealedFileError: as the class says.
        """
        return b"".join(self.open_chunks(sealed, context=context))

    def open_chunks(self, sealed: bytes, *, context: str) -> Iterator[bytes]:
        """The plaintext chunk by chunk. A truncated file raises at its (new) last chunk, so a
        consumer that streams must treat everything it got as void when this raises."""
        _key_id, file_key, size, body_start = self._parse_header(sealed, context)
        aead = AESGCM(file_key)
        stride = size + TAG_BYTES
        body = memoryview(sealed)[body_start:]
        if not body:
            raise SealedFileError("sealed file has no chunks")
        count = -(-len(body) // stride)
        for index in range(count):
            final = index == count - 1
            piece = body[index * stride : (index + 1) * stride]
            try:
                yield aead.decrypt(_nonce(index, final), piece, _chunk_aad(size, context, index, final))
            except InvalidTag:
                raise SealedFileError("sealed file failed authentication") from None

    def needs_rewrap(self, sealed: bytes) -> bool:
        """True when the file key is not wrapped under the active key (reads the header only)."""
        return self._key_id_of(sealed) != self._active_key_id

    def rewrap(self, sealed: bytes, *, context: str) -> bytes:
        """The same file with its key wrapped under the active key; chunks are untouched.

        Raises:
            SealedFileError: as :meth:`open` (only the header is checked here).
        """
        _key_id, file_key, size, body_start = self._parse_header(sealed, context)
        return self._header(self._active_key_id, file_key, size, context) + sealed[body_start:]

    def _header(self, key_id: str, file_key: bytes, size: int, context: str) -> bytes:
        key_id_bytes = key_id.encode("ascii")
        wrapped = seal_bytes(self._wrapping_keys[key_id], file_key, _wrap_aad(key_id_bytes, size, context))
        return (
            _FIXED.pack(MAGIC, _VERSION, size, len(key_id_bytes))
            + key_id_bytes
            + bytes([len(wrapped)])
            + wrapped
        )

    def _key_id_of(self, sealed: bytes) -> str:
        if len(sealed) < _FIXED.size:
            raise SealedFileError("not a sealed file")
        magic, version, _size, key_id_length = _FIXED.unpack_from(sealed)
        if magic != MAGIC or version != _VERSION:
            raise SealedFileError("not a sealed file")
        key_id = sealed[_FIXED.size : _FIXED.size + key_id_length]
        if not _KEY_ID_RE.fullmatch(key_id):
            raise SealedFileError("malformed key id")
        return key_id.decode("ascii")

    def _parse_header(self, sealed: bytes, context: str) -> tuple[str, bytes, int, int]:
        """(key id, file key, chunk size, offset of the first chunk)."""
        key_id = self._key_id_of(sealed)
        _magic, _version, size, key_id_length = _FIXED.unpack_from(sealed)
        if not _MIN_CHUNK_BYTES <= size <= _MAX_CHUNK_BYTES:
            raise SealedFileError("malformed chunk size")
        offset = _FIXED.size + key_id_length
        if len(sealed) <= offset:
            raise SealedFileError("truncated header")
        wrapped_length = sealed[offset]
        wrapped = sealed[offset + 1 : offset + 1 + wrapped_length]
        if len(wrapped) != wrapped_length:
            raise SealedFileError("truncated header")
        wrapping_key = self._wrapping_keys.get(key_id)
        if wrapping_key is None:
            raise SealedFileError("unknown wrapping key")
        try:
            file_key = open_bytes(wrapping_key, wrapped, _wrap_aad(key_id.encode("ascii"), size, context))
        except FieldDecryptionError:
            raise SealedFileError("file key does not open") from None
        if len(file_key) != KEY_BYTES:
            raise SealedFileError("malformed file key")
        return key_id, file_key, size, offset + 1 + wrapped_length


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _framed(context: str) -> bytes:
    data = context.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError("context too long")
    return struct.pack(">H", len(data)) + data


def _wrap_aad(key_id: bytes, size: int, context: str) -> bytes:
    return b"file-key" + struct.pack(">BI", _VERSION, size) + bytes([len(key_id)]) + key_id + _framed(context)


def _chunk_aad(size: int, context: str, index: int, final: bool) -> bytes:
    return (
        b"file-chunk"
        + struct.pack(">BI", _VERSION, size)
        + _framed(context)
        + index.to_bytes(8, "big")
        + (b"\x01" if final else b"\x00")
    )
