"""Residents' journeys through the identity pages in headless Chromium, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from identity.assurance import ACR_MFA
from tests.identity.accounts.factories import PASSWORD, random_email, random_hkid

pytestmark = pytest.mark.browser


def sign_in(page, site, identifier: str, password: str = PASSWORD, query: str = "") -> None:
    page.goto(site.url("/signin" + query))
    page.get_by_label("Identity card number, email address or staff user name").fill(identifier)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_enrol_verify_totp_sign_out_sign_in_and_switch_language(page, site):
    from identity.residents.hkid import format_hkid, mask_hkid, normalise_hkid

    hkid, email = format_hkid(random_hkid()), random_email()
    page.goto(site.url("/enrol"))
    page.get_by_label("Identity card number").fill(hkid)
    page.get_by_label("English name").fill("CHEUNG Mei Ling")
    page.get_by_label("Chinese name").fill("張美玲")
    page.get_by_label("Date of birth").fill("1992-04-30")
    page.get_by_label("Female", exact=True).check()
    page.get_by_label("Residential address").fill("Flat 3B, 8 Pok Fu Lam Road")
    page.get_by_label("Mobile phone number").fill("6123 4567")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Verify your email address")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(site.latest_code(email))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_text("Your email address has been verified.")).to_be_visible()
    expect(page.locator("#hkid-masked")).to_have_text(mask_hkid(normalise_hkid(hkid)))

    page.get_by_role("link", name="Set up two-step verification").click()
    expect(page.get_by_role("img")).to_be_visible()  # the QR code, announced as an image
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step verification").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have kept my recovery codes").click()

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert page.goto(site.url("/account")).url.startswith(site.url("/signin?next=/account"))

    sign_in(page, site, hkid)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    # The set-up code's time step is spent (replay defence): use the next step.
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    assert page.url == site.url("/account")

    page.get_by_role("link", name="繁體中文").click()
    expect(page.get_by_role("heading", name="你的資料")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    page.get_by_role("link", name="帳戶活動").click()
    expect(page.get_by_text("啟用雙重認證")).to_be_visible()  # the language is remembered


def test_lockout_tells_when_to_retry(page, site):
    resident = site.new_resident()
    for _ in range(5):
        sign_in(page, site, resident["email"], "a wrong password")
    expect(page.locator("#locked")).to_contain_text("You can try again after")
    sign_in(page, site, resident["email"])  # a browser never signed in before waits too
    expect(page.locator("#locked")).to_be_visible()
    assert "/signin" in page.url


def test_step_up_for_a_service_asking_for_two_step_verification(page, site):
    resident = site.new_resident()
    sign_in(page, site, resident["email"])
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    # Two-step verification set up after signing in: this session is at the basic level.
    page.goto(site.url("/account/security/totp"))
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step verification").click()

    page.goto(site.url(f"/signin?next=/account/activity&acr={ACR_MFA}"))
    expect(page.get_by_text("asks for a higher level of assurance")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Account activity")).to_be_visible()
    page.goto(site.url(f"/signin?next=/account/security&acr={ACR_MFA}"))  # now satisfied
    expect(page.get_by_role("heading", name="Security")).to_be_visible()


def test_duplicate_identity_card_number_is_refused_without_revealing_the_account(page, site):
    resident = site.new_resident()
    page.goto(site.url("/enrol"))
    page.get_by_label("Identity card number").fill(
        resident["hkid"].lower().replace("(", " ").replace(")", "")
    )
    page.get_by_label("English name").fill("WONG Tai Sin")
    page.get_by_label("Date of birth").fill("1970-01-01")
    page.get_by_label("Other", exact=True).check()
    page.get_by_label("Residential address").fill("2 Garden Road")
    page.get_by_label("Mobile phone number").fill("5123 4567")
    page.get_by_label("Email address").fill(random_email())
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#hkid-error")).to_contain_text("This identity card number cannot be enrolled")
    expect(page.get_by_role("alert")).to_be_visible()
    content = page.content()
    assert resident["email"] not in content and "LEE Siu Ming" not in content


def test_a_form_with_a_forged_csrf_token_is_refused(page, site):
    resident = site.new_resident()
    page.goto(site.url("/signin"))
    sign_in_form = page.locator("form", has=page.locator("input[name=password]"))
    sign_in_form.locator("input[name=csrf_token]").evaluate("input => input.value = 'forged'")
    page.get_by_label("Identity card number, email address or staff user name").fill(resident["email"])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "egate_session"]


def test_recovery_code_signs_in_when_the_phone_is_lost(page, site):
    resident = site.new_resident(totp=True)
    sign_in(page, site, resident["hkid"])
    page.get_by_label("Code from your authenticator app").fill(resident["recovery_codes"][0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_text("Recovery codes left: 9.")).to_be_visible()


def test_password_reset_signs_out_every_session(page, new_page, site):
    resident = site.new_resident()
    sign_in(page, site, resident["email"])
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()

    other = new_page()
    other.goto(site.url("/signin"))
    other.get_by_role("link", name="Forgotten your password?").click()
    other.get_by_label("Identity card number or email address").fill(resident["hkid"])
    other.get_by_role("button", name="Send a code").click()
    other.get_by_label("Code", exact=True).fill(site.latest_code(resident["email"]))
    other.get_by_label("New password", exact=True).fill("a fresh new passphrase")
    other.get_by_label("Type the new password again").fill("a fresh new passphrase")
    other.get_by_role("button", name="Reset password").click()
    expect(other.get_by_text("Your password has been reset")).to_be_visible()

    page.reload()
    assert re.search(r"/signin\?next=", page.url)
    sign_in(other, site, resident["email"], "a fresh new passphrase")
    expect(other.get_by_role("heading", name="Your details")).to_be_visible()
