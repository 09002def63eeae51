"""The checkpoint signing key at rest: Ed25519, sealed with AES-256-GCM under a key derived
from the master secret with HKDF-SHA256 (RFC 5869).

Defended against: a copy of the database alone yields no signing key (the master secret
lives outside it); a sealed key moved onto another key's row does not open, because the
key ID is the associated data. The identity service has its own derivation with a
different ``info``, so the two never share key material.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

HKDF_INFO = b"egate consent ledger checkpoint signing key v1"
NONCE_SIZE = 12


class SealedKeyError(Exception):
    """The sealed key does not open: another master secret, or the row was altered."""


def _sealing_key(master_key: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(master_key)
    return AESGCM(derived)


def seal(master_key: bytes, private_key: Ed25519PrivateKey, key_id: str) -> bytes:
    """nonce (12 bytes) || AES-GCM(raw private key), bound to ``key_id``."""
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    nonce = os.urandom(NONCE_SIZE)
    return nonce + _sealing_key(master_key).encrypt(nonce, raw, key_id.encode())


def unseal(master_key: bytes, sealed: bytes, key_id: str) -> Ed25519PrivateKey:
    nonce, ciphertext = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
    try:
        raw = _sealing_key(master_key).decrypt(nonce, ciphertext, key_id.encode())
    except (InvalidTag, ValueError):
        raise SealedKeyError(f"ledger signing key {key_id} does not open with this master secret") from None
    return Ed25519PrivateKey.from_private_bytes(raw)
