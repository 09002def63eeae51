"""The forms hub's purposes for keys derived from the master secret (:mod:`kit.sealing`).

Every label is prefixed ``forms-hub/`` in the HKDF info, so none of the hub's keys can
coincide with another service's. Answers and other personal values are sealed as canonical
JSON with the record's id as the associated data (GOV.UK Forms keeps answers encrypted at
rest too): a sealed value copied onto another row does not open.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from kit import sealing

_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
# The key id of the first generation of every sealing label. Values sealed before the
# hub used kit.sealing's tokens carry no key id and open under this one.
FIRST_GENERATION = "h1"


def derive_key(master_key: bytes, label: str, length: int = 32) -> bytes:
    return sealing.derive_key(master_key, "forms-hub/" + label, length=length)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Sealer:
    """JSON values sealed under one label's key, bound to a record id.

    Raises (``open``): kit.sealing.FieldDecryptionError.
    """

    def __init__(self, master_key: bytes, label: str = "answers/v1") -> None:
        keyring = {FIRST_GENERATION: derive_key(master_key, label)}
        self._cipher = sealing.FieldCipher(keyring, FIRST_GENERATION, unnamed_key_id=FIRST_GENERATION)

    def seal(self, value: Any, record_id: str) -> str:
        return self._cipher.encrypt(canonical_json(value).decode(), context=record_id)

    def open(self, text: str, record_id: str) -> Any:
        return json.loads(self._cipher.decrypt(text, context=record_id))


def derived_signing_key(master_key: bytes, generation: int) -> ec.EllipticCurvePrivateKey:
    """The hub's ES256 receipt key of one generation: a P-256 scalar derived from the master
    secret, so no key file has to be shared between replicas or backed up separately."""
    seed = derive_key(master_key, f"receipt-signing-key/{generation}", length=48)
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())
