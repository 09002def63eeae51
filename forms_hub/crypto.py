"""Keys the forms hub derives from the master secret, and sealing of answers at rest.

Everything here is derived (HKDF-SHA256, RFC 5869) from the runtime's master secret with a
label per purpose, so every replica computes the same keys and none is stored. Answers are
sealed with AES-256-GCM (GOV.UK Forms keeps answers encrypted at rest too); the record's id
is the associated data, so a sealed value copied onto another row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "v1:"
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


@lru_cache(maxsize=64)
def derive_key(master_key: bytes, label: str, length: int = 32) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=b"forms-hub/" + label.encode()
    ).derive(master_key)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keyed_digest(master_key: bytes, label: str, value: str) -> str:
    """HMAC-SHA256 of ``value``: how cookies, states and tokens are stored (never in clear)."""
    return hmac.new(derive_key(master_key, label), value.encode(), hashlib.sha256).hexdigest()


class Sealer:
    """AES-256-GCM with a random 96-bit nonce; output ``v1:`` + base64(nonce || ciphertext)."""

    def __init__(self, master_key: bytes, label: str = "answers/v1") -> None:
        self._aead = AESGCM(derive_key(master_key, label))

    def seal(self, value: Any, record_id: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, canonical_json(value), record_id.encode())
        return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, text: str, record_id: str) -> Any:
        if not text.startswith(SEALED_PREFIX):
            raise ValueError("unknown sealed format")
        raw = base64.b64decode(text[len(SEALED_PREFIX) :])
        return json.loads(self._aead.decrypt(raw[:12], raw[12:], record_id.encode()))


def derived_signing_key(master_key: bytes, generation: int) -> ec.EllipticCurvePrivateKey:
    """The hub's ES256 receipt key of one generation: a P-256 scalar derived from the master
    secret, so no key file has to be shared between replicas or backed up separately."""
    seed = derive_key(master_key, f"receipt-signing-key/{generation}", length=48)
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())
