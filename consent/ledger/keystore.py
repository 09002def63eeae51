"""The checkpoint signing key at rest: Ed25519, sealed (:mod:`kit.sealing`, AES-256-GCM) under
a key derived from the master secret for this one purpose.

Defended against: a copy of the database alone yields no signing key (the master secret
lives outside it); a sealed key moved onto another key's row does not open, because the
key ID is the associated data. Stored as ``nonce || ciphertext || tag``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from kit.sealing import FieldDecryptionError, derive_key, open_bytes, seal_bytes

# The HKDF info; changing it would orphan every stored signing key.
SEALING_PURPOSE = "egate consent ledger checkpoint signing key v1"


class SealedKeyError(Exception):
    """The sealed key does not open: another master secret, or the row was altered."""


def seal(master_key: bytes, private_key: Ed25519PrivateKey, key_id: str) -> bytes:
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return seal_bytes(derive_key(master_key, SEALING_PURPOSE), raw, key_id.encode())


def unseal(master_key: bytes, sealed: bytes, key_id: str) -> Ed25519PrivateKey:
    try:
        raw = open_bytes(derive_key(master_key, SEALING_PURPOSE), sealed, key_id.encode())
    except FieldDecryptionError:
        raise SealedKeyError(f"ledger signing key {key_id} does not open with this master secret") from None
    return Ed25519PrivateKey.from_private_bytes(raw)
