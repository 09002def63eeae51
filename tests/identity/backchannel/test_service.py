"""Who is owed a logout token when sessions end, and how a delivery that fails is retried
(identity/backchannel/service.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from identity.backchannel import service
from identity.backchannel.models import DELIVERED, FAILED, PENDING, LogoutDelivery
from identity.sessions.service import session_reference
from tests.identity.accounts.factories import create_resident
from tests.identity.backchannel.factories import department, holds, holds_code, session

URI = "https://td.example/backchannel-logout"


def owed(db):
    db.expire_all()
    rows = db.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)).all()
    return {(row.client_id, row.sid) for row in rows}


def test_a_signed_out_session_is_announced_to_the_departments_holding_its_tokens(db, runtime):
    now = runtime.clock()
    account, _ = create_resident(db, runtime)
    ended, other = session(db, runtime, account.id), session(db, runtime, account.id)
    td = department(db, runtime, URI)
    by_code = department(db, runtime, URI, department="IRD")
    not_registered = department(db, runtime, None, department="HD")
    elsewhere = department(db, runtime, URI, department="LD")
    disabled = department(db, runtime, URI, department="FEHD")
    disabled.disabled = True
    holds(db, td, account.id, ended, now)
    holds(db, td, account.id, ended, now)  # two tokens, one delivery
    holds_code(db, by_code, account.id, ended, now)
    holds(db, not_registered, account.id, ended, now)
    holds(db, elsewhere, account.id, other, now)
    holds(db, disabled, account.id, ended, now)

    assert service.announce_logout(db, account.id, [ended], now, service.SIGNED_OUT) == 2
    sid = session_reference(ended)
    assert owed(db) == {(td.client_id, sid), (by_code.client_id, sid)}
    row = db.scalars(select(LogoutDelivery).where(LogoutDelivery.client_id == td.client_id)).one()
    assert row.state == PENDING and row.next_attempt_at == now and row.reason == "signed-out"


def test_an_account_wide_logout_names_the_resident_not_a_session(db, runtime):
    now = runtime.clock()
    account, _ = create_resident(db, runtime)
    first, second = session(db, runtime, account.id), session(db, runtime, account.id)
    td = department(db, runtime, URI)
    needs_sid = department(db, runtime, URI, department="IRD", backchannel_logout_session_required=True)
    long_gone = department(db, runtime, URI, department="LD")
    holds(db, td, account.id, first, now)
    holds(db, td, account.id, second, now)
    holds(db, needs_sid, account.id, first, now)
    holds(db, needs_sid, account.id, second, now)
    # A token that expired more than a day ago: that department's session is assumed gone.
    holds(db, long_gone, account.id, first, now - timedelta(days=3), expires_in=timedelta(hours=1))

    assert service.announce_logout(db, account.id, None, now, service.PASSWORD_CHANGED) == 3
    assert owed(db) == {
        (td.client_id, None),
        (needs_sid.client_id, session_reference(first)),
        (needs_sid.client_id, session_reference(second)),
    }


def test_nothing_is_owed_when_no_department_holds_tokens(db, runtime):
    account, _ = create_resident(db, runtime)
    ended = session(db, runtime, account.id)
    assert service.announce_logout(db, account.id, [ended], runtime.clock(), service.SIGNED_OUT) == 0
    assert service.announce_logout(db, account.id, None, runtime.clock(), service.SIGNED_OUT_EVERYWHERE) == 0
    assert owed(db) == set()


def test_failures_back_off_exponentially_then_give_up_until_an_operator_retries(db, runtime):
    now = runtime.clock()
    assert [service.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert service.retry_delay(9) == service.retry_delay(40) == timedelta(hours=1)
    row = LogoutDelivery(
        client_id="td", account_id="a", sid=None, reason="x", state=PENDING, attempts=0,
        created_at=now, next_attempt_at=now,
    )  # fmt: skip
    db.add(row)
    db.flush()
    for attempt in range(1, service.MAX_ATTEMPTS):
        row.attempts = attempt
        service.record_failure(row, "answered HTTP 503", now)
        assert row.state == PENDING and row.next_attempt_at == now + service.retry_delay(attempt)
    row.attempts = service.MAX_ATTEMPTS
    service.record_failure(row, "answered HTTP 503", now)
    assert row.state == FAILED
    [shown] = service.deliveries(db, failed_only=True)
    assert (shown.id, shown.attempts, shown.last_error) == (row.id, service.MAX_ATTEMPTS, "answered HTTP 503")
    assert shown.next_attempt_at is None and not shown.names_session

    assert service.retry(db, row.id, now + timedelta(hours=5))
    assert (row.state, row.attempts, row.next_attempt_at) == (PENDING, 0, now + timedelta(hours=5))
    assert not service.retry(db, row.id, now)  # only a failed delivery is retried
    service.record_delivered(row, now)
    assert row.state == DELIVERED and service.deliveries(db, failed_only=True) == []
