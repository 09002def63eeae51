"""The server-side record of a sign-in an authorization request demanded (issue 12 item 2)."""

from datetime import timedelta

from identity.oidc import reauthentication
from kit.db import utcnow

REQUEST = {"client_id": "dept-1", "prompt": "login", "state": "s1", "redirect_uri": "https://d/cb"}


def _resumed(handle, **changes):
    return {**REQUEST, **changes, reauthentication.RESUME_PARAM: handle}


def test_a_demand_holds_for_its_own_request_until_spent_once(db):
    now = utcnow()
    handle = reauthentication.demand(db, REQUEST, now)
    db.flush()
    row = reauthentication.pending_demand(db, _resumed(handle), now + timedelta(minutes=1))
    assert row is not None and row.demanded_at == now
    assert reauthentication.spend(db, row, now)
    assert not reauthentication.spend(db, row, now)  # a racing second use loses
    db.expire_all()
    assert reauthentication.pending_demand(db, _resumed(handle), now) is None


def test_a_handle_is_worthless_for_another_request_after_expiry_or_when_unknown(db):
    now = utcnow()
    handle = reauthentication.demand(db, REQUEST, now)
    db.flush()
    assert reauthentication.pending_demand(db, _resumed(handle, state="s2"), now) is None
    assert reauthentication.pending_demand(db, _resumed(handle, prompt="consent"), now) is None
    later = now + reauthentication.DEMAND_TTL
    assert reauthentication.pending_demand(db, _resumed(handle), later) is None
    assert reauthentication.pending_demand(db, _resumed("forged"), now) is None
    assert reauthentication.pending_demand(db, _resumed("x" * 500), now) is None
    assert reauthentication.pending_demand(db, REQUEST, now) is None


def test_expired_demands_are_cleared_as_new_ones_are_made(db):
    now = utcnow()
    old = reauthentication.demand(db, REQUEST, now - 2 * reauthentication.DEMAND_TTL)
    db.flush()
    reauthentication.demand(db, REQUEST, now)
    db.flush()
    db.expire_all()
    assert reauthentication.pending_demand(db, _resumed(old), now - 2 * reauthentication.DEMAND_TTL) is None
