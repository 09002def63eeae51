"""A proofed holder wins: enrolling a number's real holder at a counter suspends the
self-asserted account that claimed it, and ends everything that account could still do."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from consent.port import LedgerConsentPort
from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.schemas import CounterEnrolment, FormErrors
from identity.assurance import IAL_IN_PERSON
from identity.backchannel.models import LogoutDelivery
from identity.consent_port import ConsentRequest
from identity.devices import service as devices
from identity.proofing import service as proofing
from identity.proofing.suspension import ProofedAccountNotSuspended, suspend_account
from identity.residents.hkid import normalise_hkid
from identity.sessions.models import BrowserSession
from identity.tokens.models import IssuedToken
from tests.identity.accounts.factories import (
    Browser,
    create_resident,
    keyring_of,
    outbox_messages,
)
from tests.identity.backchannel.factories import department, holds, session
from tests.identity.proofing.factories import checked, create_registrar, tags

DEVICE_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}


def counter_enrolment(form: dict[str, str], **overrides: str | None) -> CounterEnrolment:
    values = {
        "hkid": normalise_hkid(form["hkid"]),
        "name": "CHAN Tai Man",
        "name_zh": "陳大文",
        "birthdate": date(1990, 7, 31),
        "gender": "male",
        "phone": "+85298765432",
        "email": "real.holder@example.hk",
    }
    values.update(overrides)
    return CounterEnrolment(**values)  # type: ignore[arg-type]


def grant(db, port, account_id, now) -> str:
    request = ConsentRequest(account_id, "td-licensing", "TD", ("name",), "Licence", "牌照")
    return port.record_grant(db, request, remember=True, given_via="consent-page", now=now)


def test_the_holder_wins_and_the_claimant_loses_everything(db, runtime, clock):
    keyring, port = keyring_of(runtime), LedgerConsentPort()
    claimant, form = create_resident(db, runtime)
    claimant.email_verified_at = clock.now
    browser = Browser(runtime)
    assert browser.sign_in(form["hkid"]).status_code == 303
    db.add(
        IssuedToken(
            jti="claimant-refresh",
            kind="refresh",
            token_hash="h-claimant",
            client_id="c",
            account_id=claimant.id,
            scope="openid",
            family_id="f",
            issued_at=clock.now,
            expires_at=clock.now + timedelta(days=1),
        )
    )
    device = devices.bind_device(
        db, clock.now, account_id=claimant.id, name="Phone", public_jwk=DEVICE_KEY, session_id=None, meta=None
    )
    grant_id = grant(db, port, claimant.id, clock.now)
    db.flush()
    officer = create_registrar(db, runtime)

    # Without the officer's confirmation nothing happens.
    with pytest.raises(FormErrors) as unconfirmed:
        proofing.enrol_in_person(db, keyring, port, officer, counter_enrolment(form), None, clock.now)
    assert unconfirmed.value.errors == {"hkid": "registration.number_claimed"}
    assert claimant.status == "active"

    # The holder may keep the email address the claimant used.
    holder = counter_enrolment(form, email=form["email"])
    enrolled = proofing.enrol_in_person(
        db, keyring, port, officer, holder, None, clock.now, suspend_claimant=True
    )
    db.flush()
    db.expire_all()
    assert claimant.status == "suspended"
    assert claimant.hkid_index is None and claimant.email_index is None
    assert accounts.account_hkid(keyring, claimant) == normalise_hkid(form["hkid"])  # kept for the record
    suspension = enrolled.suspended
    assert suspension is not None and suspension.account_id == claimant.id
    assert (suspension.sessions_ended, suspension.tokens_revoked, suspension.devices_removed) == (1, 1, 1)
    assert suspension.consents_revoked == 1 and suspension.owner_notified
    assert db.scalars(select(BrowserSession).where(BrowserSession.account_id == claimant.id)).one().ended_at
    assert db.get(IssuedToken, "claimant-refresh").revoked_at is not None
    assert devices.list_devices(db, claimant.id) == [] and device.removed_at is not None
    assert port.grant_is_valid(db, grant_id, clock.now) is False
    assert [g.revoked_by for g in port.list_grants(db, claimant.id)] == ["suspension"]
    assert "account.suspended" in tags(db, claimant.id)
    assert tags(db, officer.id)[-3:] == [
        "registration.suspended",
        "registration.proofed",
        "registration.enrolled",
    ]
    notices = [m for m in outbox_messages(db, runtime) if m.recipient == form["email"]]
    assert any("suspended" in m.subject for m in notices)

    # The holder's account took the number and the address; nothing of the claimant's came along.
    account = enrolled.account
    assert account.identity_level == IAL_IN_PERSON and account.id != claimant.id
    assert accounts.find_by_identifier(db, keyring, form["hkid"]).id == account.id
    assert accounts.find_by_identifier(db, keyring, form["email"]).id == account.id
    assert devices.list_devices(db, account.id) == [] and port.list_grants(db, account.id) == []
    assert accounts.load_profile(keyring, account).address is None

    # The claimant can no longer sign in, nor use the session it had.
    assert browser.get("/account", follow_redirects=False).status_code == 303
    again = Browser(runtime).sign_in(form["hkid"])
    assert again.status_code == 400 and "/account" not in again.headers.get("location", "")


def test_a_proofed_account_is_never_taken_over_at_a_counter(db, runtime, clock):
    keyring, port = keyring_of(runtime), LedgerConsentPort()
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    code, _ = proofing.issue_counter_code(db, keyring, account, clock.now)
    proofing.proof_in_person(db, keyring, officer, account, code, checked(form), None, clock.now)
    with pytest.raises(FormErrors) as refused:
        proofing.enrol_in_person(
            db, keyring, port, officer, counter_enrolment(form), None, clock.now, suspend_claimant=True
        )
    assert refused.value.errors == {"hkid": "registration.holder_proofed"}
    with pytest.raises(ProofedAccountNotSuspended):
        suspend_account(db, keyring, port, account, officer_id=officer.id, meta=None, now=clock.now)
    assert account.status == "active" and account.hkid_index is not None


def test_a_refused_enrolment_leaves_the_claimant_untouched(db, runtime, clock):
    keyring, port = keyring_of(runtime), LedgerConsentPort()
    claimant, form = create_resident(db, runtime)
    _other, other_form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    with pytest.raises(FormErrors) as taken:
        proofing.enrol_in_person(
            db,
            keyring,
            port,
            officer,
            counter_enrolment(form, email=other_form["email"]),
            None,
            clock.now,
            suspend_claimant=True,
        )
    assert taken.value.errors == {"email": "email.taken"}
    db.expire_all()
    assert claimant.status == "active" and claimant.hkid_index is not None


def test_sign_in_refuses_a_suspended_account(db, runtime, clock):
    """identity/signin refuses any account that is not active (the suspension also releases
    the indexes, so that a suspended claimant is not even found; this checks the refusal)."""
    account, form = create_resident(db, runtime)
    account.status = accounts.SUSPENDED
    db.flush()
    refused = Browser(runtime).sign_in(form["email"])
    assert refused.status_code == 400 and "This account is suspended." in refused.text
    assert accounts_repository.get(db, account.id).status == "suspended"


def test_the_claimants_departments_are_told_through_back_channel_logout(db, runtime, clock):
    keyring, port = keyring_of(runtime), LedgerConsentPort()
    claimant, form = create_resident(db, runtime)
    td = department(db, runtime, "https://td.example/backchannel-logout")
    holds(db, td, claimant.id, session(db, runtime, claimant.id), clock.now)
    officer = create_registrar(db, runtime)

    proofing.enrol_in_person(
        db, keyring, port, officer, counter_enrolment(form), None, clock.now, suspend_claimant=True
    )
    db.flush()

    owed = db.scalars(select(LogoutDelivery).where(LogoutDelivery.account_id == claimant.id)).all()
    assert [(row.client_id, row.sid, row.reason) for row in owed] == [
        (td.client_id, None, "account-suspended")
    ]
