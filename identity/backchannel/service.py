"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a resident's sessions
end, every department that holds tokens from them is owed a logout token.

``announce_logout`` is called in the transaction that ends the sessions, and writes one
delivery per department (per session, where the token names one) into a durable queue;
``identity.backchannel.delivery`` signs and posts them after the commit, and again with
backoff until they are taken or given up.

What a delivery names:

- sessions that ended (sign-out, RP-initiated logout, one session ended on the account
  pages, a removed device): ``sid`` and ``sub``, so the department ends the sessions it
  opened from those (§2.4); only clients holding a code or token from those sessions.
- the whole account (``session_ids=None``: sign out everywhere, a password changed or
  reset, a suspended account): ``sub`` alone, so the department ends every session of that
  resident (§2.4), also those whose session here has long timed out while the department's
  own lived on: that is how a stolen department cookie dies with the resident's sign-out
  everywhere. A client that requires ``sid`` (``backchannel_logout_session_required``)
  gets one token per session it holds tokens from instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.backchannel import repository
from identity.backchannel.models import DELIVERED, FAILED, PENDING, LogoutDelivery
from identity.sessions.service import session_reference

# Why sessions ended (the delivery's ``reason``, shown to operators).
SIGNED_OUT = "signed-out"
RP_LOGOUT = "rp-initiated-logout"
SESSION_ENDED = "session-ended"
SIGNED_OUT_EVERYWHERE = "signed-out-everywhere"
PASSWORD_CHANGED = "password-changed"
PASSWORD_RESET = "password-reset"
ACCOUNT_SUSPENDED = "account-suspended"
DEVICE_REMOVED = "device-removed"

# For an account-wide logout: a department holding any code or token of the account that
# was valid at some time in this window is told. A department session older than its last
# token from us by more than this is assumed to be gone (refresh tokens, valid for weeks,
# keep a long-lived department session in the window).
ACCOUNT_HORIZON = timedelta(hours=24)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 10  # about four hours of trying, then failed (visible to operators)
ATTEMPT_LEASE = timedelta(seconds=60)  # longer than any attempt takes


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as operators see it: never the token, never the resident."""

    id: int
    client_id: str
    reason: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    names_session: bool


def announce_logout(
    db: Session, account_id: str, session_ids: Collection[str] | None, now: datetime, reason: str
) -> int:
    """Owe a logout token to every department holding tokens from ``session_ids`` (sessions
    that ended in this transaction), or from the account when ``session_ids`` is None (every
    session of the account ends). Writes into the caller's transaction; returns how many
    deliveries were queued. Nothing is sent here: the caller's route hands its response to
    ``delivery.deliver_after``, and the retry job (`egate logout-deliveries deliver`) sends
    whatever a request did not."""
    if session_ids is None:
        holdings = repository.holders_of_account(db, account_id, now - ACCOUNT_HORIZON)
    else:
        holdings = repository.holders_of_sessions(db, set(session_ids))
    if not holdings:
        return 0
    clients = repository.logout_clients(db, {client_id for client_id, _ in holdings})
    owed: set[tuple[str, str | None]] = set()
    for client in clients:
        sessions = {session for holder, session in holdings if holder == client.client_id and session}
        if session_ids is None and not client.backchannel_logout_session_required:
            owed.add((client.client_id, None))
        else:
            owed.update((client.client_id, session_reference(session)) for session in sessions)
    rows = [
        LogoutDelivery(
            client_id=client_id,
            account_id=account_id,
            sid=sid,
            reason=reason[:32],
            state=PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        for client_id, sid in sorted(owed, key=lambda pair: (pair[0], pair[1] or ""))
    ]
    repository.add(db, rows)
    return len(rows)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... 1 h."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


def record_delivered(row: LogoutDelivery, now: datetime) -> None:
    row.state = DELIVERED
    row.delivered_at = now
    row.last_error = None


def record_failure(row: LogoutDelivery, error: str, now: datetime, *, give_up: bool = False) -> None:
    """After ``MAX_ATTEMPTS`` (or at once, ``give_up``: nowhere to send it) the delivery is
    given up (``failed``) until an operator retries it."""
    row.last_error = error[:200]
    if give_up or row.attempts >= MAX_ATTEMPTS:
        row.state = FAILED
    else:
        row.next_attempt_at = now + retry_delay(row.attempts)


def retry(db: Session, delivery_id: int, now: datetime) -> bool:
    """An operator's retry of a failed delivery: due now, with a fresh count of attempts."""
    row = repository.get(db, delivery_id)
    if row is None or row.state != FAILED:
        return False
    row.state = PENDING
    row.attempts = 0
    row.next_attempt_at = now
    return True


def retry_all_failed(db: Session, now: datetime) -> int:
    return sum(retry(db, delivery_id, now) for delivery_id in repository.failed_ids(db))


def deliveries(db: Session, *, failed_only: bool = False, limit: int = 100) -> list[DeliveryView]:
    return [
        DeliveryView(
            id=row.id,
            client_id=row.client_id,
            reason=row.reason,
            state=row.state,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if row.state == PENDING else None,
            last_error=row.last_error,
            names_session=row.sid is not None,
        )
        for row in repository.listing(db, failed_only=failed_only, limit=limit)
    ]
