"""Our own RFC 9068 access tokens, checked where we are the resource server (userinfo, the
app's device API) and where a token of ours is looked up (introspection, revocation).

The keys come through the kernel's JWKS cache (``kit.access_tokens``) from the database of
the calling request; the cache is an optimisation, never the source of truth: a key unknown
to it triggers a reload.
"""

from __future__ import annotations

import contextvars
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.keys.service import published_jwks
from kit.access_tokens import AccessTokenVerifier, InProcessJwks, InvalidToken
from kit.dpop import DpopProofVerifier, Presentation

OWN_KEYS_CACHE_SECONDS = 10.0

# The cache below is shared by the whole process, but its loader must read through the
# database session of the request that asked (on SQLite a second session would wait for
# the write lock that request holds): verify_own_access_token hands it over here.
_loading_with: contextvars.ContextVar[tuple[Session, datetime]] = contextvars.ContextVar("own_jwks_loading")


def _published_now() -> dict[str, Any]:
    db, now = _loading_with.get()
    return published_jwks(db, now)


# A rotation on another replica signs with a kid this process has not seen; reloading from
# the database for it costs one small query, like the token lookup that follows, so no
# rate limit (it would refuse that replica's fresh tokens for a while).
_own_keys = InProcessJwks(_published_now, ttl_seconds=OWN_KEYS_CACHE_SECONDS, min_refresh_seconds=0.0)


def verify_own_access_token(
    db: Session, token: str, *, issuer: str, now: datetime, check_expiry: bool = True
) -> dict[str, Any] | None:
    """The claims of a valid RFC 9068 access token we issued, or None. The audience is the
    issuer itself (userinfo and the app's API); ``check_expiry=False`` lets introspection
    and revocation recognise an expired token of ours (a DPoP-bound one too: they look it
    up, nobody presents it). Otherwise a DPoP-bound token is refused: a resource endpoint
    that accepts them uses ``presented_access_token_claims``."""
    try:
        return presented_access_token_claims(
            db, token, issuer=issuer, now=now, check_expiry=check_expiry, check_sender=check_expiry
        )
    except InvalidToken:
        return None


def presented_access_token_claims(
    db: Session,
    token: str,
    *,
    issuer: str,
    now: datetime,
    presentation: Presentation | None = None,
    dpop: DpopProofVerifier | None = None,
    check_expiry: bool = True,
    check_sender: bool = True,
) -> dict[str, Any]:
    """The claims of an access token of ours presented at one of our endpoints as the
    request presented it (Bearer, or DPoP with the proof ``dpop`` checks: RFC 9449 §7), or
    ``InvalidToken`` saying why not (its ``error``, ``scheme`` and ``nonce`` make the
    challenge)."""
    verifier = AccessTokenVerifier(
        issuer=issuer, audience=issuer, jwks=_own_keys, clock=lambda: now, dpop=dpop
    )
    marker = _loading_with.set((db, now))
    try:
        verified = verifier.verify(
            token, check_expiry=check_expiry, presentation=presentation, check_sender=check_sender
        )
        return dict(verified.raw)
    finally:
        _loading_with.reset(marker)


def forget_own_keys() -> None:
    """After a rotation in this process: pick the new keys up at once."""
    _own_keys.forget()
