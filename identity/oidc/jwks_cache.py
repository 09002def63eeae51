"""Public keys: ours (to verify the access tokens we issued) and clients' (private_key_jwt).

Both are cached briefly in the process; the cache is an optimisation, never the source of
truth: a key unknown to the cache triggers one reload from the database or the client's URI.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from identity.clients.models import Client
from identity.keys.service import published_jwks
from identity.oidc.tokens import ACCESS_TOKEN_TYPE

CACHE_SECONDS = 10.0
CLIENT_JWKS_CACHE_SECONDS = 300.0
_lock = threading.Lock()
_own: dict[str, Any] = {"at": 0.0, "keys": None, "kids": frozenset()}
_clients: dict[str, tuple[float, KeySet]] = {}


def _own_keys(db: Session, now: datetime, kid: str | None) -> KeySet:
    stale = time.monotonic() - _own["at"] > CACHE_SECONDS
    if _own["keys"] is None or stale or (kid is not None and kid not in _own["kids"]):
        with _lock:
            document = published_jwks(db, now)
            _own["keys"] = KeySet.import_key_set(document)
            _own["kids"] = frozenset(k["kid"] for k in document["keys"])
            _own["at"] = time.monotonic()
    return _own["keys"]


def verify_own_access_token(
    db: Session, token: str, *, issuer: str, now: datetime, check_expiry: bool = True
) -> dict[str, Any] | None:
    """The claims of a valid RFC 9068 access token we issued, or None. Only ES256 is accepted:
    ``alg: none`` and HMAC algorithms (the public-key-as-secret attack) never verify."""
    if len(token) > 8192:
        return None
    try:
        kid = jws.extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError, UnicodeError):
        return None
    try:
        decoded = jwt.decode(token, _own_keys(db, now, kid), algorithms=["ES256"])
    except (JoseError, ValueError, KeyError):
        return None
    if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
        return None
    claims = decoded.claims
    if claims.get("iss") != issuer or not isinstance(claims.get("jti"), str):
        return None
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences or []
    if issuer not in audiences:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int):
        return None
    if check_expiry and exp <= now.timestamp():
        return None
    return claims


def client_keys(client: Client) -> KeySet:
    if client.jwks:
        return KeySet.import_key_set(client.jwks)
    if not client.jwks_uri:
        raise ValueError("client has no registered keys")
    cached = _clients.get(client.jwks_uri)
    if cached and time.monotonic() - cached[0] < CLIENT_JWKS_CACHE_SECONDS:
        return cached[1]
    response = httpx.get(client.jwks_uri, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    keys = KeySet.import_key_set(response.json())
    _clients[client.jwks_uri] = (time.monotonic(), keys)
    return keys


def forget_own_keys() -> None:
    """After a rotation in this process: pick the new keys up at once."""
    _own["at"] = 0.0
