"""Encryption of personal-data fields at rest, and keyed lookup (blind index).

Defends against a leaked database or backup: identity-document numbers and
similar fields are stored only as AES-256-GCM ciphertext, and equality
lookups (one account per HKID) go through an HMAC "blind index" that cannot
be reversed or recomputed without the key.

* :class:`FieldCipher`: AES-256-GCM (NIST SP 800-38D) with a random 96-bit
  nonce per value. The column's context string (e.g. ``"resident.hkid"``) is
  the associated data, so a ciphertext copied into another column (or, if the
  caller includes a row id in the context, another row) fails to decrypt.
  Tokens name their key, so keys can be rotated: add a new key to the
  keyring, make it active, keep the old one until every token has been
  re-encrypted (:meth:`FieldCipher.needs_reencrypt`,
  :meth:`FieldCipher.reencrypt`). With random nonces keep each key below
  2**32 encryptions (SP 800-38D §8.3); rotation also resets that count.
* :class:`BlindIndex`: HMAC-SHA256 (RFC 2104) over ``context || 0x00 ||
  value``, hex-encoded.
* :func:`derive_key`: HKDF-SHA256 (RFC 5869) sub-keys from one master secret,
  so each purpose gets an independent key and the same key is never used for
  two algorithms.

Token format: ``v1.<key_id>.<b64url nonce>.<b64url ciphertext||tag>``
(base64url without padding, RFC 4648 §5).
"""

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
]

_VERSION = "v1"
_KEY_LEN = 32
_NONCE_LEN = 12  # 96 bits: the GCM nonce length SP 800-38D recommends
_TAG_LEN = 16
_MIN_MASTER_LEN = 32
# No "." so the token splits unambiguously; short so tokens stay compact.
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


class FieldDecryptionError(Exception):
    """The token is malformed, under an unknown key, tampered with, or was
    encrypted for another context. Deliberately carries no token or value."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # Strict: the stdlib decoder silently skips foreign characters, which
    # would let several spellings of one token decode alike.
    if not _B64URL_RE.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:  # non-zero padding bits: another spelling
        raise ValueError("non-canonical base64url")
    return data


@functools.lru_cache(maxsize=64)
def derive_key(master: bytes, purpose: str, *, length: int = _KEY_LEN) -> bytes:
    """Derive an independent sub-key for ``purpose`` with HKDF-SHA256.

    RFC 5869: ``purpose`` (e.g. ``"field-encryption/v1"``,
    ``"blind-index/hkid/v1"``) is the HKDF ``info``. No salt: the master is
    required to be a uniformly random secret of at least 32 bytes, for which
    RFC 5869 §3.1 allows omitting it. Changing the purpose string (e.g. its
    version suffix) yields an unrelated key.
    """
    if len(master) < _MIN_MASTER_LEN:
        raise ValueError(f"master secret must be at least {_MIN_MASTER_LEN} bytes")
    if not purpose:
        raise ValueError("purpose must not be empty")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=None,
        info=purpose.encode("utf-8"),
    )
    return hkdf.derive(master)


class FieldCipher:
    """AES-256-GCM encryption of text fields with key rotation.

    ``keyring`` maps key id -> 32-byte key; ``active_key_id`` names the key
    used for new encryptions. Old keys stay in the keyring for decryption
    until every token has been re-encrypted.
    """

    def __init__(self, keyring: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keyring:
            raise ValueError("active key id is not in the keyring")
        self._aeads: dict[str, AESGCM] = {}
        for key_id, key in keyring.items():
            if not _KEY_ID_RE.fullmatch(key_id):
                raise ValueError(f"invalid key id {key_id!r}")
            if len(key) != _KEY_LEN:
                raise ValueError(f"key {key_id!r} must be {_KEY_LEN} bytes")
            self._aeads[key_id] = AESGCM(key)
        self._active_key_id = active_key_id

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` bound to ``context`` (e.g. ``"resident.hkid"``)."""
        if not context:
            raise ValueError("context must not be empty")
        nonce = os.urandom(_NONCE_LEN)
        sealed = self._aeads[self._active_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return ".".join((_VERSION, self._active_key_id, _b64encode(nonce), _b64encode(sealed)))

    def _parse(self, token: str) -> tuple[str, bytes, bytes]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != _VERSION:
            raise FieldDecryptionError("malformed token")
        _version, key_id, nonce_text, sealed_text = parts
        try:
            nonce = _b64decode(nonce_text)
            sealed = _b64decode(sealed_text)
        except (ValueError, binascii.Error):
            raise FieldDecryptionError("malformed token") from None
        if len(nonce) != _NONCE_LEN or len(sealed) < _TAG_LEN:
            raise FieldDecryptionError("malformed token")
        return key_id, nonce, sealed

    def decrypt(self, token: str, *, context: str) -> str:
        """Decrypt a token made by :meth:`encrypt` with the same ``context``.

        Raises:
            FieldDecryptionError: malformed token, unknown key id, failed
                authentication (tampering, wrong key, wrong context).
        """
        key_id, nonce, sealed = self._parse(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise FieldDecryptionError("unknown key id")
        try:
            plaintext = aead.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            raise FieldDecryptionError("authentication failed") from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise FieldDecryptionError("not UTF-8") from None

    def needs_reencrypt(self, token: str) -> bool:
        """True when ``token`` is not under the active key (rotation pending).

        Only looks at the header; a malformed token also answers True so a
        rotation job surfaces it (``reencrypt`` will then raise).
        """
        try:
            key_id, _nonce, _sealed = self._parse(token)
        except FieldDecryptionError:
            return True
        return key_id != self._active_key_id

    def reencrypt(self, token: str, context: str) -> str:
        """Decrypt under its old key and encrypt again under the active key.

        Raises:
            FieldDecryptionError: as :meth:`decrypt`.
        """
        return self.encrypt(self.decrypt(token, context=context), context=context)


class BlindIndex:
    """Keyed, deterministic digest for equality lookup of a secret value.

    ``HMAC-SHA256(key, context || 0x00 || value)`` (RFC 2104), hex-encoded.
    Used to enforce and look up "one account per HKID" without storing the
    number in clear: without the key, the small HKID space cannot be
    enumerated against the index. The 0x00 separator (forbidden inside the
    context) keeps ``("ab", "c")`` and ``("a", "bc")`` apart. Callers must
    normalise the value first (e.g. :func:`identity.residents.hkid.normalise_hkid`),
    since any difference in spelling gives a different digest.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < _KEY_LEN:
            raise ValueError(f"blind index key must be at least {_KEY_LEN} bytes")
        self._key = key

    def digest(self, value: str, *, context: str) -> str:
        if not context or "\x00" in context:
            raise ValueError("context must be non-empty and contain no NUL")
        message = context.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
