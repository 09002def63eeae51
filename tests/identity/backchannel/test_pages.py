"""Every way a resident's sessions end at the provider tells the departments at once: the
receiver has a verified logout token when the page answers (the delivery runs right after
the response); on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from identity.backchannel.models import DELIVERED, LogoutDelivery
from identity.keys.service import ensure_keys, published_jwks
from identity.sessions.models import BrowserSession
from identity.sessions.service import session_reference
from tests.identity.accounts.factories import (
    PASSWORD,
    Browser,
    activate,
    create_resident,
    enrolled_at_counter,
    enrolment_form,
    latest_code,
)
from tests.identity.backchannel.factories import department, holds
from tests.support.logout_receiver import LogoutReceiver


@pytest.fixture
def receiver(db, runtime):
    runtime.settings.outbound_allow_private = True  # the receiver listens on loopback http
    ensure_keys(db, runtime.master_key, runtime.clock())
    db.flush()
    receiver = LogoutReceiver(runtime.settings.issuer, published_jwks(db, runtime.clock()))
    yield receiver
    receiver.stop()


def signed_in_with_department(db, runtime, receiver, browser=None):
    """A resident signed in, and a department holding tokens from that session."""
    account, form = create_resident(db, runtime)
    browser = browser or Browser(runtime)
    browser.sign_in(form["email"])
    client = department(db, runtime, receiver.url)
    receiver.audience = client.client_id
    [live] = db.scalars(select(BrowserSession).where(BrowserSession.account_id == account.id)).all()
    holds(db, client, account.id, live.id, runtime.clock())
    return account, form, browser, live.id


def delivered(db) -> list[str]:
    db.expire_all()
    return [row.state for row in db.scalars(select(LogoutDelivery))]


def test_signing_out_tells_the_department_with_the_session(db, runtime, receiver):
    _, _, browser, session_id = signed_in_with_department(db, runtime, receiver)
    browser.get("/account")
    browser.post("/signout")
    [claims] = receiver.wait_for(1)
    assert claims["sid"] == session_reference(session_id) and claims["sub"]
    assert delivered(db) == [DELIVERED]


def test_signing_out_everywhere_names_the_resident(db, runtime, receiver):
    _, _, browser, _ = signed_in_with_department(db, runtime, receiver)
    browser.get("/account/security")
    browser.post("/account/sessions/end-all")
    [claims] = receiver.wait_for(1)
    assert "sid" not in claims and claims["sub"]  # every session of the resident


def test_ending_another_session_on_the_account_page(db, runtime, receiver):
    account, form, phone, phone_session = signed_in_with_department(db, runtime, receiver)
    browser = Browser(runtime)
    browser.sign_in(form["email"])
    browser.get("/account/security")
    browser.post("/account/sessions/end", {"session": phone_session})
    [claims] = receiver.wait_for(1)
    assert claims["sid"] == session_reference(phone_session)


def test_changing_the_password_names_the_resident(db, runtime, receiver):
    _, _, browser, _ = signed_in_with_department(db, runtime, receiver)
    browser.get("/account/security")
    changed = browser.post(
        "/account/security/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new phrase",
            "new_password_confirm": "a brand new phrase",
        },
    )
    assert "Your password has been changed." in changed.text
    [claims] = receiver.wait_for(1)
    assert "sid" not in claims


def test_a_password_reset_names_the_resident(db, runtime, receiver):
    account, form, _, _ = signed_in_with_department(db, runtime, receiver)
    account.email_verified_at = runtime.clock()
    db.flush()
    visitor = Browser(runtime)
    visitor.post("/reset", {"identifier": form["hkid"]})
    code = latest_code(db, runtime, form["email"])
    fields = {"new_password": "my new long phrase", "new_password_confirm": "my new long phrase"}
    visitor.post("/reset/confirm", {"identifier": form["hkid"], "code": code, **fields})
    [claims] = receiver.wait_for(1)
    assert "sid" not in claims


def test_rp_initiated_logout_confirmed_by_the_resident(db, runtime, receiver):
    _, _, browser, session_id = signed_in_with_department(db, runtime, receiver)
    page = browser.get("/logout")
    assert 'action="/logout"' in page.text
    browser.post("/logout")
    [claims] = receiver.wait_for(1)
    assert claims["sid"] == session_reference(session_id)


def test_a_failed_password_change_tells_no_one(db, runtime, receiver):
    _, _, browser, _ = signed_in_with_department(db, runtime, receiver)
    browser.get("/account/security")
    browser.post(
        "/account/security/password",
        {"current_password": "nope", "new_password": "x" * 20, "new_password_confirm": "x" * 20},
    )
    assert receiver.bodies == [] and delivered(db) == []


def test_activating_another_account_in_the_same_browser_tells_the_department(db, runtime, receiver):
    _, _, browser, session_id = signed_in_with_department(db, runtime, receiver)
    _, hkid, code = enrolled_at_counter(db, runtime)
    browser.get("/activate")
    assert activate(browser, hkid, code).status_code == 303
    [claims] = receiver.wait_for(1)
    assert claims["sid"] == session_reference(session_id)


def test_enrolling_in_a_browser_signed_in_to_another_account_tells_the_department(db, runtime, receiver):
    _, _, browser, session_id = signed_in_with_department(db, runtime, receiver)
    browser.get("/enrol")
    assert browser.post("/enrol", enrolment_form(), follow_redirects=False).status_code == 303
    [claims] = receiver.wait_for(1)
    assert claims["sid"] == session_reference(session_id)
