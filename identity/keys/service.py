"""Signing keys: ES256 for access tokens, RS256 (the OIDC default) or ES256 for ID tokens.

Private keys are stored encrypted under a key derived from the master secret. Rotation makes
a new key active for new tokens; the old public key stays in the JWKS until every token it
signed has expired (``publish_until`` = rotation time + the longest token lifetime).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwk
from sqlalchemy.orm import Session

from identity.keys import repository
from identity.keys.models import SigningKey
from kit.sealing import FieldCipher, derive_key

SUPPORTED_ALGORITHMS = ("RS256", "ES256")
_KEY_CONTEXT = "idp.signing_key"
# How long a process trusts its copy of the active keys; a rotation done by another replica
# is picked up within this time (the old key stays valid meanwhile, so nothing breaks).
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    alg: str
    key: jwk.Key


def _cipher(master_key: bytes) -> FieldCipher:
    return FieldCipher({"k1": derive_key(master_key, "signing-keys/v1")}, "k1")


def _generate(alg: str) -> jwk.RSAKey | jwk.ECKey:
    if alg == "RS256":
        return jwk.RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return jwk.ECKey.generate_key("P-256", private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def create_key(db: Session, master_key: bytes, alg: str, now: datetime) -> SigningKey:
    key = _generate(alg)
    kid = f"{alg.lower()}-{now:%Y%m%d}-{secrets.token_hex(4)}"
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    row = SigningKey(
        kid=kid,
        alg=alg,
        private_key_encrypted=_cipher(master_key).encrypt(
            key.as_pem(private=True).decode(), context=_KEY_CONTEXT
        ),
        public_jwk=public,
        created_at=now,
    )
    repository.add(db, row)
    return row


def active_rows(db: Session) -> dict[str, SigningKey]:
    return {row.alg: row for row in repository.active(db)}  # newest per algorithm wins


def ensure_keys(db: Session, master_key: bytes, now: datetime) -> dict[str, SigningKey]:
    """Create one active key per supported algorithm where none exists; returns the active
    key of each algorithm."""
    active = active_rows(db)
    for alg in SUPPORTED_ALGORITHMS:
        if alg not in active:
            active[alg] = create_key(db, master_key, alg, now)
    return active


def rotate(db: Session, master_key: bytes, now: datetime, longest_token_ttl: int) -> list[str]:
    """Retire the active keys and create new ones; returns the new key ids."""
    publish_until = now + timedelta(seconds=longest_token_ttl)
    for row in active_rows(db).values():
        row.retired_at = now
        row.publish_until = publish_until
    return [create_key(db, master_key, alg, now).kid for alg in SUPPORTED_ALGORITHMS]


def published_jwks(db: Session, now: datetime) -> dict[str, Any]:
    return {"keys": [row.public_jwk for row in repository.published(db, now)]}


class KeyCache:
    """The active private keys, decrypted once and refreshed every CACHE_SECONDS."""

    def __init__(self, master_key: bytes) -> None:
        self._master_key = master_key
        self._keys: dict[str, ActiveKey] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def signing_key(self, db: Session, alg: str) -> ActiveKey:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS or alg not in self._keys:
            self._reload(db)
        return self._keys[alg]

    def invalidate(self) -> None:
        self._loaded_at = 0.0

    def _reload(self, db: Session) -> None:
        with self._lock:
            # The first start of a new installation creates its keys here.
            active = ensure_keys(db, self._master_key, datetime.now(UTC))
            cipher = _cipher(self._master_key)
            keys = {}
            for alg, row in active.items():
                cached = self._keys.get(alg)
                if cached and cached.kid == row.kid:
                    keys[alg] = cached
                    continue
                pem = cipher.decrypt(row.private_key_encrypted, context=_KEY_CONTEXT)
                keys[alg] = ActiveKey(row.kid, alg, jwk.import_key(pem.encode(), row.public_jwk["kty"]))
            if set(keys) != set(SUPPORTED_ALGORITHMS):
                raise RuntimeError("signing keys missing: run `egate keys rotate` or restart serve")
            self._keys = keys
            self._loaded_at = time.monotonic()
