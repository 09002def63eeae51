"""Housekeeping of the forms hub's tables (run by `egate maintenance` and the schedule in
`egate serve`): expired sessions, sign-in requests and logout-token ``jti``s, prefill tokens
older than a draft may live, and delivered notifications after a week."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from forms_hub.config import FormsConfig
from forms_hub.oidc_client import repository as oidc_client
from forms_hub.submissions import outbox
from kit.purge import Purge

DELIVERED_KEPT = timedelta(days=7)


def purges(config: FormsConfig) -> tuple[Purge, ...]:
    def prefill_tokens(db: Session, now: datetime, limit: int) -> int:
        return oidc_client.purge_prefill_tokens(db, now - config.draft_ttl, limit)

    def sent(db: Session, now: datetime, limit: int) -> int:
        return outbox.purge_sent(db, now - DELIVERED_KEPT, limit)

    return (
        Purge("forms_sessions", oidc_client.purge_sessions),
        Purge("forms_auth_requests", oidc_client.purge_auth_requests),
        Purge("forms_logout_token_jtis", oidc_client.purge_logout_token_jtis),
        Purge("forms_prefill_tokens", prefill_tokens),
        Purge("forms_outbox", sent),
    )
