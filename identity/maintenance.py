"""Housekeeping of the provider's tables: what `egate maintenance` (and the schedule inside
`egate serve`) removes once nothing needs it, each purge in its sub-package's repository.

Kept on purpose: an expired authorization code while any token of its grant lives (userinfo
reads the grant's ``claims`` request from it; a replayed code still revokes its tokens); an
expired app sign-in for a day (a late poll hears ``expired_token``); a pushed request a
sign-in was opened from for a day; delivered messages and finished logout deliveries for a
week (what an operator looks into when a resident says nothing arrived).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.accounts import repository as accounts
from identity.backchannel import repository as backchannel
from identity.devices import repository as devices
from identity.messaging import outbox
from identity.sessions import repository as sessions
from identity.tokens import repository as tokens
from kit.purge import Purge

LATE_POLL = timedelta(days=1)
OPENED_REQUEST_KEPT = timedelta(days=1)
DELIVERED_KEPT = timedelta(days=7)


def _pushed_requests(db: Session, now: datetime, limit: int) -> int:
    return tokens.purge_pushed_requests(db, now, now - OPENED_REQUEST_KEPT, limit)


def _app_signins(db: Session, now: datetime, limit: int) -> int:
    return devices.purge_app_signins(db, now - LATE_POLL, limit)


def _outbox(db: Session, now: datetime, limit: int) -> int:
    return outbox.purge_sent(db, now - DELIVERED_KEPT, limit)


def _logout_deliveries(db: Session, now: datetime, limit: int) -> int:
    return backchannel.purge_finished(db, now - DELIVERED_KEPT, limit)


PURGES = (
    Purge("idp_tokens", tokens.purge_tokens),
    Purge("idp_authorization_codes", tokens.purge_codes),
    Purge("idp_sessions", sessions.purge_sessions),
    Purge("idp_pending_signins", sessions.purge_pending_signins),
    Purge("idp_reauthentication_demands", tokens.purge_reauthentication_demands),
    Purge("idp_pushed_requests", _pushed_requests),
    Purge("idp_dpop_proofs", tokens.purge_dpop_proofs),
    Purge("idp_assertion_jtis", tokens.purge_assertion_jtis),
    Purge("idp_verification_codes", accounts.purge_verification_codes),
    Purge("idp_app_signins", _app_signins),
    Purge("idp_device_signature_jtis", devices.purge_signature_jtis),
    Purge("idp_outbox", _outbox),
    Purge("idp_logout_deliveries", _logout_deliveries),
)
