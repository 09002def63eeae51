"""In Chromium, on SQLite and PostgreSQL: a resident enrols online, then a registration officer,
signed in with a password and a TOTP code, proofs them in person at /staff with the counter
code the resident's page shows."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect

from identity.accounts import service as accounts
from identity.claims import REGISTRAR
from identity.residents.hkid import format_hkid
from kit.db import session_scope
from tests.identity.accounts.factories import PASSWORD, hasher_of, keyring_of, random_email, random_hkid

pytestmark = pytest.mark.browser


def sign_in(page, identifier: str) -> None:
    page.get_by_label("Identity card number, email address or staff user name").fill(identifier)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def new_registrar(site) -> tuple[str, pyotp.TOTP]:
    """A registration officer with TOTP turned on (registration work needs it); returns the
    user name and the officer's authenticator."""
    username = f"registrar.{secrets.token_hex(3)}"
    keyring, now = keyring_of(site.runtime), site.runtime.clock()
    for db in session_scope(site.runtime.sessions):
        account = accounts.create_staff(
            db,
            keyring,
            hasher_of(site.runtime),
            username=username,
            password=PASSWORD,
            department="REG",
            roles=[REGISTRAR],
            name="LAU Ka Ming",
            now=now,
        )
        totp = pyotp.TOTP(accounts.begin_totp_setup(keyring, account))
        accounts.confirm_totp(db, keyring, account, totp.at(now - timedelta(seconds=30)), None, now)
    return username, totp


def test_self_enrolment_then_in_person_proofing_at_the_counter(page, new_page, site):
    hkid = format_hkid(random_hkid())
    page.goto(site.url("/enrol"))
    page.get_by_label("Identity card number").fill(hkid)
    page.get_by_label("English name").fill("YEUNG Chi Keung")
    page.get_by_label("Chinese name").fill("楊志強")
    page.get_by_label("Date of birth").fill("1988-11-02")
    page.get_by_label("Male", exact=True).check()
    page.get_by_label("Residential address").fill("Flat 8C, 33 King's Road, North Point")
    page.get_by_label("Mobile phone number").fill("5123 4567")
    page.get_by_label("Email address").fill(random_email())
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()

    page.goto(site.url("/account"))
    page.get_by_role("link", name="Your identity").click()
    expect(page.locator("#identity-level")).to_have_text("Self-asserted: not checked")
    page.get_by_role("button", name="Get a counter code").click()
    counter_code = page.locator("#counter-code").inner_text()

    officer = new_page()
    username, authenticator = new_registrar(site)
    officer.goto(site.url("/staff/registration"))  # sign in first, then back here
    sign_in(officer, username)
    expect(officer.get_by_role("heading", name="Two-step verification")).to_be_visible()
    officer.get_by_label("Code from your authenticator app").fill(authenticator.now())
    officer.get_by_role("button", name="Continue").click()
    expect(officer.get_by_role("heading", name="Registration", exact=True)).to_be_visible()
    officer.get_by_label("Identity card number").fill(hkid)
    officer.get_by_role("button", name="Look up").click()
    expect(officer.get_by_role("heading", name="YEUNG Chi Keung 楊志強")).to_be_visible()
    expect(officer.locator("#identity-level")).to_have_text("Self-asserted: not checked")
    officer.get_by_label("Counter code").fill(counter_code)
    officer.get_by_role("button", name="Confirm: identity checked in person").click()
    expect(officer.get_by_text("The resident's identity is now checked in person.")).to_be_visible()
    expect(officer.locator("#identity-level")).to_have_text("Checked in person")

    page.goto(site.url("/account/identity"))
    expect(page.locator("#identity-level")).to_have_text("Checked in person")
    expect(page.locator("#verified-details")).to_contain_text("YEUNG Chi Keung")
