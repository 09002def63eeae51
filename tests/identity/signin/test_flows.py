"""The password sign-in's hot path (identity.signin.flows.password_signin, bench/signin.py):
the account's credential read lean, the same lookups as everywhere else, and few statements."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from identity.accounts import service as accounts
from identity.accounts.models import AccountEvent
from identity.accounts.service import RequestMeta
from identity.assurance import ACR_BASIC
from identity.sessions.models import BrowserSession
from identity.sessions.service import SessionPolicy
from identity.signin import flows
from identity.throttling.known_device import KnownDevices
from tests.identity.accounts.factories import PASSWORD, create_resident, hasher_of, keyring_of
from tests.identity.oidc.factories import turn_on_totp


def _sign_in(db, runtime, identifier, password=PASSWORD, now=None):
    return flows.password_signin(
        db,
        keyring=keyring_of(runtime),
        hasher=hasher_of(runtime),
        policy=SessionPolicy.from_settings(runtime.settings),
        known_devices=KnownDevices(b"k" * 32),
        now=now or runtime.clock(),
        identifier=identifier,
        password=password,
        client_host="192.0.2.7",
        known_browser_cookie=None,
        meta=RequestMeta.of("192.0.2.7", "test"),
        existing=None,
        next_path="/account",
    )


@pytest.mark.parametrize("field", ["hkid", "email"])
def test_the_credential_is_found_as_the_account_is(db, runtime, field):
    account, form = create_resident(db, runtime)
    keyring = keyring_of(runtime)
    found = accounts.find_credential(db, keyring, f"  {form[field]} ")
    assert found is not None
    assert (found.id, found.status, found.password_hash, found.has_totp) == (
        account.id,
        account.status,
        account.password_hash,
        False,
    )
    assert accounts.find_by_identifier(db, keyring, form[field]) is account
    turn_on_totp(db, keyring, account, runtime.clock())
    db.flush()
    credential = accounts.find_credential(db, keyring, form[field])
    assert credential is not None and credential.has_totp
    assert accounts.find_credential(db, keyring, "nobody@example.org") is None
    assert accounts.find_credential(db, keyring, "x" * 255) is None


def test_a_password_sign_in_reads_twice_and_writes_its_session_and_event(db, runtime):
    account, form = create_resident(db, runtime)
    db.commit()
    statements: list[str] = []
    now = runtime.clock()

    def count(conn, cursor, statement, parameters, context, executemany):
        verb = statement.split()[0]
        # Transaction control differs between the databases (and the tests' own savepoints).
        if verb not in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK"):
            statements.append(verb)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        outcome = _sign_in(db, runtime, form["email"], now=now)
        db.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert isinstance(outcome, flows.SignedIn)
    # The credential, the counters; after the hash the credential again; the session, the event.
    assert statements == ["SELECT", "SELECT", "SELECT", "INSERT", "INSERT"]
    [row] = db.scalars(select(BrowserSession).where(BrowserSession.account_id == account.id)).all()
    assert (row.id, row.acr, row.amr, row.ended_at) == (outcome.session.id, ACR_BASIC, ["pwd"], None)
    assert row.expires_at == now + SessionPolicy.from_settings(runtime.settings).lifetime
    tags = db.scalars(select(AccountEvent.tag).where(AccountEvent.account_id == account.id)).all()
    assert tags == ["account.enrolled", "signin.success"]


def test_a_wrong_password_starts_no_session(db, runtime):
    account, form = create_resident(db, runtime)
    db.commit()
    outcome = _sign_in(db, runtime, form["hkid"], "not the password")
    db.commit()
    assert isinstance(outcome, flows.Failed) and outcome.error == "signin.wrong"
    assert db.scalars(select(BrowserSession).where(BrowserSession.account_id == account.id)).all() == []
    tags = db.scalars(select(AccountEvent.tag).where(AccountEvent.account_id == account.id)).all()
    assert tags == ["account.enrolled", "signin.failure"]
