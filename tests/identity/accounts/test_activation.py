"""Activation of an account enrolled at a registration counter: identity card number,
activation code and a new password at /activate, then signed in."""

from __future__ import annotations

from identity.accounts import service as accounts
from identity.residents.hkid import format_hkid
from tests.identity.accounts.factories import Browser, activate, enrolled_at_counter, random_hkid


def test_an_account_without_a_password_cannot_be_signed_in_to(db, runtime, clock, browser):
    account, hkid, _code = enrolled_at_counter(db, runtime)
    assert not accounts.has_usable_password(account)
    assert browser.sign_in(hkid, "").status_code == 400
    assert browser.sign_in(hkid, account.password_hash).status_code == 400


def test_activation_sets_the_password_once_and_signs_in(db, runtime, clock, browser):
    account, hkid, code = enrolled_at_counter(db, runtime)
    browser.get("/activate")
    weak = activate(browser, hkid, code, "password")
    assert weak.status_code == 400 and 'id="new_password-error"' in weak.text
    done = activate(browser, hkid, code)  # the weak try did not use the code up
    assert done.status_code == 303 and done.headers["location"] == "/account?notice=notice.activated"
    assert browser.get("/account").status_code == 200
    db.refresh(account)
    assert accounts.has_usable_password(account)
    assert [e.tag for e in accounts.activity(db, account.id)][0] == "account.activated"
    again = activate(Browser(runtime), hkid, code, "another long phrase")
    assert again.status_code == 400 and "The code is not correct or has expired." in again.text
    assert Browser(runtime).sign_in(hkid).status_code == 303


def test_wrong_codes_and_unknown_numbers_get_the_same_answer_and_are_throttled(db, runtime, clock, browser):
    _account, hkid, code = enrolled_at_counter(db, runtime)
    browser.get("/activate")
    wrong = activate(browser, hkid, "00000000" if code != "00000000" else "11111111")
    unknown = activate(browser, format_hkid(random_hkid()), code)
    assert wrong.status_code == unknown.status_code == 400
    assert 'id="code-error"' in wrong.text and 'id="code-error"' in unknown.text
    activate(browser, hkid, "12121212")
    paused = activate(browser, hkid, code)
    assert paused.status_code == 429 and 'id="locked"' in paused.text
    clock.advance(minutes=1)
    assert activate(browser, hkid, code).status_code == 303


def test_the_activation_code_expires(db, runtime, clock, browser):
    _account, hkid, code = enrolled_at_counter(db, runtime)
    clock.advance(days=15)
    browser.get("/activate")
    assert activate(browser, hkid, code).status_code == 400
