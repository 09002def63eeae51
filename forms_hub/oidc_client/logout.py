"""The hub's end of OpenID Connect Back-Channel Logout 1.0: when the provider says that a
resident's session ended (signed out, signed out everywhere, changed the password, was
suspended), the hub's own sessions opened from it end too, and the prefill tokens kept
from it are dropped. Without this a hub cookie, stolen or left behind, outlived the
resident's sign-out at the provider by the hub's whole session lifetime.

The token was verified by ``ProviderClient.verify_logout_token``; here it is acted on once
(§2.6 step 8: its ``jti`` is remembered until it expires, a replay is refused) and matched
(§2.7): a ``sid`` ends the sessions opened from that provider session (of that ``sub``, when
named too); a ``sub`` alone ends every session of that resident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.oidc_client import repository

# Kept past the token's own expiry by the verification's leeway, so no replay fits between.
JTI_MARGIN = timedelta(minutes=2)


class ReplayedLogoutToken(ValueError):
    pass


def end_sessions_named(db: Session, claims: dict[str, Any], now: datetime) -> int:
    """Acts on a verified logout token; returns how many hub sessions ended. Raises
    ReplayedLogoutToken (and changes nothing) for a token already acted on."""
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo) + JTI_MARGIN
    if not repository.record_logout_jti(db, str(claims["jti"]), max(expires_at, now + JTI_MARGIN), now):
        raise ReplayedLogoutToken("this logout token was already received")
    sub, sid = claims.get("sub"), claims.get("sid")
    ended = repository.delete_sessions_named(db, sub, sid)
    repository.delete_prefill_tokens_named(db, sub, sid)
    return ended
