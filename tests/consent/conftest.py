"""Consent test helpers: a ledger and port on the rolled-back ``db``, the consent app with
our own ES256 key standing in for the provider's JWKS, and tokens signed with it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from jose import jwk, jwt
from starlette.testclient import TestClient

from consent.app import create_app
from consent.config import CheckpointPolicy, ConsentConfig
from consent.ledger.service import Disclosure, Ledger
from consent.port import LedgerConsentPort
from kit.access_tokens import InProcessJwks

ISSUER = "http://testserver"  # tests.support.databases.TEST_SETTINGS
AUDIENCES = [ISSUER, f"{ISSUER}/consent", f"{ISSUER}/forms"]
KID = "test-es256"


@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    public_jwk: dict[str, Any]


def new_signing_key(kid: str = KID) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public = jwk.construct(public_pem.decode(), "ES256").to_dict()
    public.update(kid=kid, use="sig", alg="ES256")
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return SigningKey(private_pem, public)


PROVIDER_KEY = new_signing_key()


def provider_jwks() -> InProcessJwks:
    """The provider's JWKS holding PROVIDER_KEY, without HTTP."""
    return InProcessJwks(lambda: {"keys": [PROVIDER_KEY.public_jwk]})


def sign_token(
    claims: dict[str, Any],
    *,
    key: SigningKey = PROVIDER_KEY,
    headers: dict[str, Any] | None = None,
    algorithm: str = "ES256",
) -> str:
    header = {"typ": "at+jwt", "kid": key.public_jwk["kid"], **(headers or {})}
    return jwt.encode(claims, key.private_pem.decode(), algorithm=algorithm, headers=header)


def access_claims(scope: str, *, sub: str, department: str | None = None, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCES,
        "exp": now + 600,
        "iat": now,
        "jti": f"jti-{time.monotonic_ns()}",
        "sub": sub,
        "client_id": "egate-account" if department is None else f"{department.lower()}-backend",
        "scope": scope,
    }
    if department is not None:
        claims["department"] = department
    claims.update(overrides)
    return claims


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def resident_headers(resident_id: str) -> dict[str, str]:
    return bearer(sign_token(access_claims("openid ledger:resident", sub=resident_id)))


def department_headers(department: str) -> dict[str, str]:
    claims = access_claims("ledger:department", sub=f"{department.lower()}-backend", department=department)
    return bearer(sign_token(claims))


def auditor_headers(sub: str = "auditor-1", client_id: str = "audit-office") -> dict[str, str]:
    claims = access_claims(
        "ledger:audit", sub=sub, department="AUDIT", client_id=client_id, roles=["auditor"]
    )
    return bearer(sign_token(claims))


def disclosure(
    resident_id: str = "resident-a",
    *,
    client_id: str = "td-licensing",
    department: str = "TD",
    channel: str = "id_token",
    fields: tuple[str, ...] = ("sub", "name", "email"),
    purpose: str = "Driving licence renewal",
    grant_id: str | None = "cg-test",
    legal_basis: str | None = None,
    request_id: str | None = "req-1",
) -> Disclosure:
    return Disclosure(
        resident_id=resident_id,
        recipient_client_id=client_id,
        recipient_department=department,
        channel=channel,
        fields=fields,
        purpose=purpose,
        grant_id=grant_id,
        legal_basis=legal_basis,
        request_id=request_id,
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=123456)


@pytest.fixture
def ledger(runtime) -> Ledger:
    """Signs a checkpoint on the first append, then never on its own."""
    policy = CheckpointPolicy(max_entries=10**9, max_age=timedelta(days=3650))
    return Ledger(origin="testserver/consent/ledger", master_key=runtime.master_key, policy=policy)


@pytest.fixture
def port(runtime) -> LedgerConsentPort:
    """Like the ledger fixture, its appends sign only the first checkpoint (size 1)."""
    policy = CheckpointPolicy(max_entries=10**9, max_age=timedelta(days=3650))
    return LedgerConsentPort(runtime, ConsentConfig(checkpoints=policy))


@pytest.fixture
def api(runtime) -> Iterator[TestClient]:
    app = create_app(runtime, config=ConsentConfig(), jwks=provider_jwks())
    with TestClient(app) as client:
        yield client
