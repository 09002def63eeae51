from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.ledger.keystore import SealedKeyError, seal, unseal

MASTER = bytes(range(32))


def test_a_sealed_key_opens_only_with_its_master_secret_and_its_key_id():
    key = Ed25519PrivateKey.generate()
    sealed = seal(MASTER, key, "abcd1234")
    assert unseal(MASTER, sealed, "abcd1234").public_key() == key.public_key()
    with pytest.raises(SealedKeyError):
        unseal(bytes(32), sealed, "abcd1234")
    with pytest.raises(SealedKeyError):
        unseal(MASTER, sealed, "other-id")
    with pytest.raises(SealedKeyError):
        unseal(MASTER, sealed[:-1] + bytes([sealed[-1] ^ 1]), "abcd1234")
    assert seal(MASTER, key, "abcd1234") != sealed  # fresh nonce every time
