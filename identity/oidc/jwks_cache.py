"""Public keys: ours (to verify the access tokens we issued) and clients' (private_key_jwt).

Both go through the kernel's JWKS cache (``kit.access_tokens``); the cache is an
optimisation, never the source of truth: a key unknown to it triggers a reload from the
database or the client's ``jwks_uri``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from joserfc.jwk import KeySet

from identity.clients.models import Client
from identity.keys.service import published_jwks
from identity.oidc.adapter import current
from kit.access_tokens import AccessTokenVerifier, HttpJwks, InProcessJwks, InvalidToken

OWN_KEYS_CACHE_SECONDS = 10.0
CLIENT_JWKS_CACHE_SECONDS = 300.0
CLIENT_JWKS_TIMEOUT_SECONDS = 5.0
MAX_CLIENT_JWKS_SOURCES = 1024


def _published_now() -> dict[str, Any]:
    """Our JWKS as the database of the current request has it."""
    ctx = current.get()
    return published_jwks(ctx.db, ctx.runtime.clock())


def _now() -> datetime:
    return current.get().runtime.clock()


# A rotation on another replica signs with a kid this process has not seen; reloading from
# the database for it costs one small query, like the token lookup that follows, so no
# rate limit (it would refuse that replica's fresh tokens for a while).
_own_keys = InProcessJwks(_published_now, ttl_seconds=OWN_KEYS_CACHE_SECONDS, min_refresh_seconds=0.0)
_client_keys: dict[str, HttpJwks] = {}
_client_http = httpx.Client(timeout=CLIENT_JWKS_TIMEOUT_SECONDS)


def verify_own_access_token(token: str, *, issuer: str, check_expiry: bool = True) -> dict[str, Any] | None:
    """The claims of a valid RFC 9068 access token we issued, or None; called inside a
    request context (``adapter.current``), whose database and clock it uses. The audience is
    the issuer itself (userinfo and the app's API); ``check_expiry=False`` lets
    introspection and revocation recognise an expired token of ours."""
    verifier = AccessTokenVerifier(issuer=issuer, audience=issuer, jwks=_own_keys, clock=_now)
    try:
        return dict(verifier.verify(token, check_expiry=check_expiry).raw)
    except InvalidToken:
        return None


def client_keys(client: Client) -> KeySet:
    """The keys a client registered for private_key_jwt (RFC 7523 §2.2): inline, or fetched
    from its ``jwks_uri`` through the kernel's HTTP JWKS cache (bounded size and time, no
    redirects). Raises ``kit.access_tokens.JwksUnavailable`` when the URI gives no keys."""
    if client.jwks:
        return KeySet.import_key_set(client.jwks)
    if not client.jwks_uri:
        raise ValueError("client has no registered keys")
    source = _client_keys.get(client.jwks_uri)
    if source is None:
        if len(_client_keys) >= MAX_CLIENT_JWKS_SOURCES:
            _client_keys.clear()  # URIs of clients since re-registered; the live ones refill it
        source = _client_keys.setdefault(
            client.jwks_uri,
            HttpJwks(
                client.jwks_uri,
                ttl_seconds=CLIENT_JWKS_CACHE_SECONDS,
                min_refresh_seconds=CLIENT_JWKS_CACHE_SECONDS,
                client=_client_http,
            ),
        )
    return KeySet.import_key_set(source.keys())


def forget_own_keys() -> None:
    """After a rotation in this process: pick the new keys up at once."""
    _own_keys.forget()
