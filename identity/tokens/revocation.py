"""The provider's answer to ``kit.access_tokens.RevocationCheck``: whether an access token
was revoked (at /revoke, by a replayed code, by refresh-token reuse, by a sign-out), read
from the token table the provider already keeps. The composition root hands it to the
deployment's other resource servers (consent, the forms hub), which never import identity.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from identity.tokens import repository
from kit.db import session_scope


class IssuedAccessTokens:
    """Looks each ``jti`` up in a short unit of work of its own: the resource server asking
    holds no session of the provider's. Wrap it in ``kit.access_tokens.CachedRevocationCheck``
    so that a token used in a burst costs one lookup per interval."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def is_revoked(self, token_id: str) -> bool:
        refused = True
        for db in session_scope(self.sessions):
            refused = repository.access_token_refused(db, token_id)
        return refused
