"""Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4): a JWT signed like the
client's ID tokens, ``typ`` ``logout+jwt`` (§2.4, RFC 8725 §3.11: it cannot be mistaken for
an ID token), naming the resident by the client's own ``sub`` and, when one session ended,
by the ``sid`` its ID tokens carried. It never carries a ``nonce`` (§2.4: that is how an
ID token is told apart), and lives two minutes: every delivery attempt signs a new one.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from joserfc import jwt
from sqlalchemy.orm import Session

from identity.clients.models import Client
from identity.keys.service import KeyCache
from identity.tokens.subjects import SubjectIdentifiers

LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL_SECONDS = 120


class LogoutTokenSigner:
    def __init__(self, issuer: str, keys: KeyCache, subjects: SubjectIdentifiers) -> None:
        self.issuer = issuer
        self.keys = keys
        self.subjects = subjects

    def claims(self, client: Client, account_id: str, sid: str | None, now: datetime) -> dict[str, Any]:
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": client.client_id,
            "iat": iat,
            "exp": iat + LOGOUT_TOKEN_TTL_SECONDS,
            "jti": secrets.token_urlsafe(16),
            "events": {LOGOUT_EVENT: {}},
            "sub": self.subjects.for_client(account_id, client.subject_type, client.sector_identifier),
        }
        if sid is not None:
            claims["sid"] = sid
        return claims

    def sign(self, db: Session, client: Client, account_id: str, sid: str | None, now: datetime) -> str:
        alg = client.id_token_signed_response_alg
        key = self.keys.signing_key(db, alg)
        header = {"alg": alg, "typ": LOGOUT_TOKEN_TYPE, "kid": key.kid}
        return jwt.encode(header, self.claims(client, account_id, sid, now), key.key)
