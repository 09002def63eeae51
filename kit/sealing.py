"""Keys derived from the master secret, and sealing of personal data at rest.

Defends against a leaked database or backup: personal fields (identity-card numbers,
answers, message bodies, signing keys) are stored only as AES-256-GCM ciphertext, and
equality lookups go through a keyed hash that cannot be reversed or recomputed without
the key. Every service uses this one module; each names its own purposes (HKDF labels)
and contexts (associated data) in a small module of its own.

* :func:`derive_key`: HKDF-SHA256 (RFC 5869) sub-keys from the master secret, one per
  purpose, so a key is never shared between two algorithms or two uses.
* :func:`seal_bytes` / :func:`open_bytes`: AES-256-GCM (NIST SP 800-38D) with a random
  96-bit nonce; output ``nonce || ciphertext || tag``. The associated data binds the value
  to where it belongs (a column, a row id): copied anywhere else it does not open.
* :class:`FieldCipher`: text fields as printable tokens, under a ring of numbered keys so
  that keys can be rotated. With random nonces keep each key below 2**32 seals
  (SP 800-38D §8.3); rotation also resets that count.
* :class:`BlindIndex` and :func:`keyed_digest`: HMAC-SHA256 (RFC 2104), hex-encoded.

Token formats :meth:`FieldCipher.open` reads (base64url without padding, RFC 4648 §5):

* ``v1.<key id>.<b64url nonce>.<b64url ciphertext||tag>``: the one written today.
* ``v1:<b64 nonce||ciphertext||tag>`` (standard base64, padded): written by the forms hub
  before its fields moved here. It names no key; it opens under the ring's
  ``unnamed_key_id`` when the ring declares one, and a rotation rewrites it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "BlindIndex",
    "FieldCipher",
    "FieldDecryptionError",
    "derive_key",
    "keyed_digest",
    "open_bytes",
    "seal_bytes",
]

KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits: the GCM nonce length SP 800-38D recommends
TAG_BYTES = 16
MIN_MASTER_BYTES = 32
_TOKEN_VERSION = "v1"
_UNNAMED_PREFIX = "v1:"
# No "." so the token splits unambiguously; short so tokens stay compact.
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class FieldDecryptionError(Exception):
    """The sealed value is malformed, under an unknown key, tampered with, or was sealed
    for another context. Deliberately carries no token or value."""


@functools.lru_cache(maxsize=64)
def derive_key(master: bytes, purpose: str, *, length: int = KEY_BYTES) -> bytes:
    """An independent sub-key for ``purpose``, HKDF-SHA256 (RFC 5869).

    ``purpose`` (e.g. ``"field-encryption/f1"``) is the HKDF ``info``, used verbatim:
    changing it (e.g. its version suffix) yields an unrelated key. No salt: the master is
    a uniformly random secret of at least 32 bytes, for which RFC 5869 §3.1 allows
    omitting it.
    """
    if len(master) < MIN_MASTER_BYTES:
        raise ValueError(f"master secret must be at least {MIN_MASTER_BYTES} bytes")
    if not purpose:
        raise ValueError("purpose must not be empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode("utf-8"))
    return hkdf.derive(master)


def keyed_digest(key: bytes, message: str) -> str:
    """HMAC-SHA256 of ``message``, hex: how secrets that are only ever compared are stored."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def seal_bytes(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """``nonce || AES-256-GCM(plaintext)``, authenticated together with ``associated_data``."""
    return _seal(AESGCM(key), plaintext, associated_data)


def open_bytes(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """The plaintext of :func:`seal_bytes`' output.

    Raises:
        FieldDecryptionError: truncated, tampered with, another key or another context.
    """
    return _open(AESGCM(key), sealed, associated_data)


def _seal(aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated_data)


def _open(aead: AESGCM, sealed: bytes, associated_data: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise FieldDecryptionError("malformed sealed value")
    try:
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
    except InvalidTag:
        raise FieldDecryptionError("authentication failed") from None


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    # Strict: the stdlib decoder silently skips foreign characters, which would let several
    # spellings of one token decode alike.
    if not _B64URL_RE.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url_encode(data) != text:  # non-zero padding bits: another spelling
        raise ValueError("non-canonical base64url")
    return data


class FieldCipher:
    """AES-256-GCM sealing of text fields, with key rotation.

    ``keyring`` maps key id -> 32-byte key; ``active_key_id`` names the key new values are
    sealed under. Older keys stay in the ring to open existing values until every one has
    been rewritten (:meth:`needs_reencrypt`, :meth:`reencrypt`). ``unnamed_key_id`` names
    the key that opens tokens of the older format that carries no key id (see the module
    docstring); None when the ring never wrote that format.
    """

    def __init__(
        self,
        keyring: Mapping[str, bytes],
        active_key_id: str,
        *,
        unnamed_key_id: str | None = None,
    ) -> None:
        if active_key_id not in keyring:
            raise ValueError("active key id is not in the keyring")
        if unnamed_key_id is not None and unnamed_key_id not in keyring:
            raise ValueError("unnamed key id is not in the keyring")
        self._aeads: dict[str, AESGCM] = {}
        for key_id, key in keyring.items():
            if not _KEY_ID_RE.fullmatch(key_id):
                raise ValueError(f"invalid key id {key_id!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes")
            self._aeads[key_id] = AESGCM(key)
        self._active_key_id = active_key_id
        self._unnamed_key_id = unnamed_key_id

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Seal ``plaintext`` bound to ``context`` (e.g. ``"resident.hkid"``, a row id)."""
        if not context:
            raise ValueError("context must not be empty")
        sealed = _seal(self._aeads[self._active_key_id], plaintext.encode("utf-8"), context.encode("utf-8"))
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return ".".join((_TOKEN_VERSION, self._active_key_id, _b64url_encode(nonce), _b64url_encode(body)))

    def decrypt(self, token: str, *, context: str) -> str:
        """Open a token made by :meth:`encrypt` (or the older unnamed format) for ``context``.

        Raises:
            FieldDecryptionError: malformed token, unknown key id, failed authentication
                (tampering, wrong key, wrong context), or not UTF-8.
        """
        key_id, sealed = self._parse(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise FieldDecryptionError("unknown key id")
        plaintext = _open(aead, sealed, context.encode("utf-8"))
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise FieldDecryptionError("not UTF-8") from None

    def needs_reencrypt(self, token: str) -> bool:
        """True when ``token`` is not under the active key in today's format (rotation
        pending). Only reads the header; a malformed token also answers True so that a
        rotation job surfaces it (``reencrypt`` then raises)."""
        if not isinstance(token, str) or token.startswith(_UNNAMED_PREFIX):
            return True
        try:
            key_id, _sealed = self._parse(token)
        except FieldDecryptionError:
            return True
        return key_id != self._active_key_id

    def reencrypt(self, token: str, context: str) -> str:
        """Open under its old key and seal again under the active key.

        Raises:
            FieldDecryptionError: as :meth:`decrypt`.
        """
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def _parse(self, token: str) -> tuple[str, bytes]:
        """(key id, nonce || ciphertext || tag)."""
        if not isinstance(token, str):
            raise FieldDecryptionError("malformed token")
        if token.startswith(_UNNAMED_PREFIX):
            return self._parse_unnamed(token[len(_UNNAMED_PREFIX) :])
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _TOKEN_VERSION:
            raise FieldDecryptionError("malformed token")
        _version, key_id, nonce_text, body_text = parts
        try:
            nonce, body = _b64url_decode(nonce_text), _b64url_decode(body_text)
        except (ValueError, binascii.Error):
            raise FieldDecryptionError("malformed token") from None
        if len(nonce) != NONCE_BYTES or len(body) < TAG_BYTES:
            raise FieldDecryptionError("malformed token")
        return key_id, nonce + body

    def _parse_unnamed(self, text: str) -> tuple[str, bytes]:
        if self._unnamed_key_id is None or not _B64_RE.fullmatch(text):
            raise FieldDecryptionError("malformed token")
        try:
            sealed = base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error):
            raise FieldDecryptionError("malformed token") from None
        return self._unnamed_key_id, sealed


class BlindIndex:
    """Keyed, deterministic digest for equality lookup of a secret value.

    ``HMAC-SHA256(key, context || 0x00 || value)`` (RFC 2104), hex-encoded. Enforces and
    looks up "one account per HKID" without storing the number in clear: without the key,
    the small HKID space cannot be enumerated against the index. The 0x00 separator
    (forbidden inside the context) keeps ``("ab", "c")`` and ``("a", "bc")`` apart. Callers
    normalise the value first, since any difference in spelling gives a different digest.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"blind index key must be at least {KEY_BYTES} bytes")
        self._key = key

    def digest(self, value: str, *, context: str) -> str:
        if not context or "\x00" in context:
            raise ValueError("context must be non-empty and contain no NUL")
        return keyed_digest(self._key, context + "\x00" + value)
