"""Small factories for the back-channel logout tests: a department registered for it, a
resident's session, and the tokens the department holds from it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from identity.clients.models import Client
from identity.clients.service import Registration, register
from identity.sessions.service import SessionPolicy, start_session
from identity.tokens.models import AuthorizationCode, IssuedToken
from kit.outbound import OutboundPolicy
from kit.runtime import Runtime

# The receivers run on loopback http: a development deployment's rule.
LOOPBACK = OutboundPolicy(development=True)


def department(db: Session, runtime: Runtime, uri: str | None, **overrides: Any) -> Client:
    fields: dict[str, Any] = dict(
        name="Transport Department",
        department="TD",
        redirect_uris=["https://td.example/cb"],
        backchannel_logout_uri=uri,
        client_id=f"td-{secrets.token_hex(4)}",
    )
    fields.update(overrides)
    client, _ = register(db, runtime.master_key, Registration(**fields), runtime.clock(), outbound=LOOPBACK)
    return client


def session(db: Session, runtime: Runtime, account_id: str) -> str:
    _, signed_in = start_session(
        db,
        SessionPolicy.from_settings(runtime.settings),
        runtime.clock(),
        account_id=account_id,
        acr="urn:egate:acr:basic",
        amr=["pwd"],
        source=None,
        user_agent="tests",
    )
    return signed_in.id


def holds(
    db: Session,
    client: Client,
    account_id: str,
    session_id: str | None,
    now: datetime,
    *,
    expires_in: timedelta = timedelta(days=30),
) -> None:
    """The department holds a refresh token issued in ``session_id``."""
    db.add(
        IssuedToken(
            jti=secrets.token_urlsafe(8),
            kind="refresh",
            token_hash=secrets.token_hex(32),
            client_id=client.client_id,
            account_id=account_id,
            session_id=session_id,
            scope="openid",
            family_id=secrets.token_urlsafe(8),
            issued_at=now,
            expires_at=now + expires_in,
        )
    )
    db.flush()


def holds_code(db: Session, client: Client, account_id: str, session_id: str, now: datetime) -> None:
    db.add(
        AuthorizationCode(
            code_hash=secrets.token_hex(32),
            client_id=client.client_id,
            account_id=account_id,
            session_id=session_id,
            redirect_uri="https://td.example/cb",
            scope="openid",
            code_challenge="x" * 43,
            code_challenge_method="S256",
            auth_time=now,
            acr="urn:egate:acr:basic",
            created_at=now,
            expires_at=now + timedelta(seconds=60),
        )
    )
    db.flush()
