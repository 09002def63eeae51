from datetime import timedelta

from starlette.requests import Request

from identity.assurance import ACR_BASIC, ACR_MFA
from identity.sessions import service as sessions
from identity.sessions.models import BrowserSession
from identity.sessions.service import SESSION_COOKIE, SignedInSession, current_session
from identity.throttling import service as throttling
from tests.identity.accounts.factories import create_resident, policy_of


def _request(token: str | None) -> Request:
    headers = [(b"cookie", f"{SESSION_COOKIE}={token}".encode())] if token else []
    return Request({"type": "http", "headers": headers, "query_string": b""})


def _start(db, runtime, account_id, acr=ACR_BASIC, amr=("pwd",)):
    return sessions.start_session(
        db,
        policy_of(runtime),
        runtime.clock(),
        account_id=account_id,
        acr=acr,
        amr=list(amr),
        source=None,
        user_agent=None,
    )


def test_current_session_reads_the_cookie_and_only_stores_its_hash(db, runtime, clock):
    account, _ = create_resident(db, runtime)
    token, started = _start(db, runtime, account.id, ACR_MFA, ("pwd", "otp"))
    found = current_session(db, _request(token), policy_of(runtime), runtime.clock())
    assert found == SignedInSession(started.id, account.id, clock.now, ACR_MFA, ("pwd", "otp"))
    row = db.get(BrowserSession, started.id)
    assert row.cookie_hash == sessions.token_hash(token) and token not in (row.id, row.cookie_hash)
    assert current_session(db, _request(None), policy_of(runtime), runtime.clock()) is None
    assert current_session(db, _request("forged"), policy_of(runtime), runtime.clock()) is None


def test_idle_timeout_is_extended_by_use(db, runtime, clock):
    account, _ = create_resident(db, runtime)
    token, _ = _start(db, runtime, account.id)
    idle = runtime.settings.session_idle_seconds
    clock.advance(seconds=idle - 10)
    assert (
        current_session(db, _request(token), policy_of(runtime), runtime.clock()) is not None
    )  # refreshes last_seen
    clock.advance(seconds=idle - 10)
    assert current_session(db, _request(token), policy_of(runtime), runtime.clock()) is not None
    clock.advance(seconds=idle + 1)
    assert current_session(db, _request(token), policy_of(runtime), runtime.clock()) is None


def test_absolute_timeout_ends_even_a_busy_session(db, runtime, clock):
    account, _ = create_resident(db, runtime)
    token, _ = _start(db, runtime, account.id)
    step = runtime.settings.session_idle_seconds // 2
    elapsed = 0
    while elapsed + step < runtime.settings.session_absolute_seconds:
        clock.advance(seconds=step)
        elapsed += step
        assert current_session(db, _request(token), policy_of(runtime), runtime.clock()) is not None
    clock.advance(seconds=step)
    assert current_session(db, _request(token), policy_of(runtime), runtime.clock()) is None


def test_end_session_and_sign_out_everywhere(db, runtime, clock):
    account, _ = create_resident(db, runtime)
    other, _ = create_resident(db, runtime)
    started = [_start(db, runtime, account.id) for _ in range(3)]
    tokens = [token for token, _ in started]
    theirs, _ = _start(db, runtime, other.id)
    assert sessions.end_session(db, started[0][1].id, clock.now)
    assert current_session(db, _request(tokens[0]), policy_of(runtime), runtime.clock()) is None
    assert sessions.end_all_sessions(db, account.id, clock.now) == 2
    assert all(current_session(db, _request(t), policy_of(runtime), runtime.clock()) is None for t in tokens)
    assert current_session(db, _request(theirs), policy_of(runtime), runtime.clock()) is not None


def test_reauthentication_keeps_the_session_id_and_rotates_its_cookie(db, runtime, clock):
    account, _ = create_resident(db, runtime)
    token, started = _start(db, runtime, account.id)
    clock.advance(minutes=3)
    new_token, raised = sessions.reauthenticate(
        db, policy_of(runtime), runtime.clock(), started.id, acr=ACR_MFA, amr=["pwd", "otp"]
    )
    assert raised.id == started.id and raised.auth_time == clock.now and raised.acr == ACR_MFA
    assert new_token != token
    assert current_session(db, _request(new_token), policy_of(runtime), runtime.clock()).amr == ("pwd", "otp")
    assert current_session(db, _request(token), policy_of(runtime), runtime.clock()) is None


def test_throttle_policy():
    assert throttling.wait_after(4) == timedelta(0)
    assert throttling.wait_after(5) == timedelta(seconds=15)
    assert throttling.wait_after(6) == timedelta(seconds=30)
    assert throttling.wait_after(100) == throttling.MAX_WAIT == timedelta(minutes=15)
    assert throttling.network_pause(throttling.NETWORK_FREE_FAILURES) == 0
    assert throttling.network_pause(10_000) == throttling.MAX_PAUSE_SECONDS
    counters = throttling.Counters.for_signin("203.0.113.77", "acct:x")
    assert counters.network == "net:203.0.113.0/24"
    assert counters.pair == throttling.Counters.for_signin("203.0.113.5", "acct:x").pair
    assert counters.pair != throttling.Counters.for_signin("203.0.114.5", "acct:x").pair
    assert throttling.Counters.for_signin("2001:db8::1", "acct:x").network == "net:2001:db8::/64"


def test_failures_are_forgotten_after_a_day(db, runtime, clock):
    counters = throttling.Counters.for_signin("192.0.2.1", throttling.account_key("someone"))
    for _ in range(6):
        clock.advance(seconds=1)
        throttling.record_failure(db, counters, clock.now)
    assert throttling.assess(db, counters, clock.now).wait_until is not None
    clock.advance(hours=25)
    failure = throttling.record_failure(db, counters, clock.now)
    assert failure.account_failures == 1 and failure.wait_until is None
