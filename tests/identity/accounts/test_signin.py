from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from identity.accounts import service as accounts
from identity.accounts.models import AccountEvent
from identity.assurance import ACR_BASIC, ACR_MFA
from identity.messaging.notices import GUESSING_SUBJECT as GUESSING
from identity.security.passwords import PasswordHasher
from identity.sessions.models import BrowserSession
from identity.signin import flows
from identity.throttling import known_device
from identity.throttling import service as throttling
from kit.i18n import in_both
from tests.identity.accounts.factories import (
    PASSWORD,
    Browser,
    create_resident,
    hasher_of,
    keyring_of,
    outbox_messages,
)

GUESSING_SUBJECT = in_both(GUESSING, " / ")


def _events(db, account_id):
    db.expire_all()
    return db.scalars(
        select(AccountEvent).where(AccountEvent.account_id == account_id).order_by(AccountEvent.id)
    ).all()


def _sessions(db, account_id):
    db.expire_all()
    return db.scalars(select(BrowserSession).where(BrowserSession.account_id == account_id)).all()


def _enable_totp(db, runtime, account) -> str:
    keyring = keyring_of(runtime)
    secret = accounts.begin_totp_setup(keyring, account)
    now = runtime.clock()
    codes = accounts.confirm_totp(
        db, keyring, account, pyotp.TOTP(secret).at(now - timedelta(seconds=30)), None, now
    )
    db.flush()
    return secret, codes


@pytest.mark.parametrize("field", ["hkid", "email"])
def test_residents_sign_in_with_hkid_or_email(browser, db, runtime, field):
    account, form = create_resident(db, runtime)
    response = browser.sign_in(
        form[field].upper() if field == "email" else form[field], next_path="/account/activity"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account/activity"
    [session] = _sessions(db, account.id)
    assert session.acr == ACR_BASIC and session.amr == ["pwd"]
    assert browser.get("/account").status_code == 200


def test_staff_sign_in_with_user_name_at_the_same_page(browser, db, runtime):
    staff = accounts.create_staff(
        db,
        keyring_of(runtime),
        hasher_of(runtime),
        username="officer.wong",
        password=PASSWORD,
        department="TD",
        roles=["officer"],
        name="WONG Ka Yan",
        now=runtime.clock(),
    )
    response = browser.sign_in("Officer.Wong")
    assert response.status_code == 303
    home = browser.get("/account")
    assert "Transport Department" in home.text and "officer" in home.text  # a name, not "TD"
    assert _sessions(db, staff.id)


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_next_must_be_a_path_on_this_site(browser, db, runtime, next_path):
    _account, form = create_resident(db, runtime)
    response = browser.post(
        "/signin",
        {"identifier": form["email"], "password": PASSWORD},
        params={"next": next_path},
        follow_redirects=False,
    )
    location = response.headers["location"]
    assert location in ("/account", next_path) and not location.startswith("//")
    assert "evil" not in location or location.startswith("/%")


def test_unknown_account_and_wrong_password_look_and_cost_the_same(browser, db, runtime, monkeypatch):
    _account, form = create_resident(db, runtime)
    calls = []
    original_verify, original_dummy = PasswordHasher.verify, PasswordHasher.dummy_verify
    monkeypatch.setattr(
        PasswordHasher, "verify", lambda self, *a: calls.append("verify") or original_verify(self, *a)
    )
    monkeypatch.setattr(
        PasswordHasher, "dummy_verify", lambda self, *a: calls.append("dummy") or original_dummy(self, *a)
    )

    wrong = browser.sign_in(form["email"], "not the right password")
    wrong_calls, calls[:] = list(calls), []
    unknown = browser.sign_in("nobody@example.hk", "not the right password")

    assert wrong.status_code == unknown.status_code == 400
    assert wrong_calls == ["verify"] and calls == ["dummy"]
    assert "The sign-in details are not correct." in wrong.text
    assert "The sign-in details are not correct." in unknown.text
    strip = lambda html: html.replace(form["email"], "X").replace("nobody@example.hk", "X")  # noqa: E731
    assert strip(wrong.text).replace(browser.token, "") == strip(unknown.text).replace(browser.token, "")


def test_growing_waits_from_the_fifth_failure_never_longer_than_fifteen_minutes(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    for _ in range(4):
        wrong = browser.sign_in(form["email"], "wrong password 1")
        assert wrong.status_code == 400 and "You can try again after" not in wrong.text
    fifth = browser.sign_in(form["email"], "wrong password 1")
    assert "You can try again after" in fifth.text  # 15 s from the fifth failure
    refused = browser.sign_in(form["email"], PASSWORD)  # an unknown browser waits too
    assert refused.status_code == 429 and "paused" in refused.text
    clock.advance(seconds=16)
    assert browser.sign_in(form["email"], "wrong password 1").status_code == 400  # 6th: 30 s
    for _ in range(20):  # the waits double, but never beyond 15 minutes
        clock.advance(minutes=15, seconds=1)
        assert browser.sign_in(form["email"], "wrong password 1").status_code == 400
    assert browser.sign_in(form["email"], PASSWORD).status_code == 429
    clock.advance(minutes=15, seconds=1)
    assert browser.sign_in(form["email"], PASSWORD).status_code == 303

    tags = [event.tag for event in _events(db, account.id)]
    assert tags.count("signin.failure") == 26 and tags.count("account.guessed_at") == 1
    success = [e for e in _events(db, account.id) if e.tag == "signin.success"][-1]
    assert success.details["after_failures"] == 26


def test_a_known_browser_is_not_held_back_by_a_strangers_failures(browser, db, runtime, clock):
    _account, form = create_resident(db, runtime)
    assert browser.sign_in(form["email"]).status_code == 303  # the owner's browser is now known
    browser.post("/signout")
    stranger = Browser(runtime)
    for _ in range(50):
        clock.advance(minutes=16)
        stranger.sign_in(form["email"], "wrong password 1")
    assert stranger.sign_in(form["email"], PASSWORD).status_code == 429
    assert browser.sign_in(form["email"]).status_code == 303


def test_a_known_browser_that_keeps_failing_is_no_longer_known(browser, db, runtime, clock):
    _account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    browser.post("/signout")
    for _ in range(throttling.DEVICE_FAILURES):
        assert browser.sign_in(form["email"], "wrong password 1").status_code == 400
    assert browser.sign_in(form["email"], PASSWORD).status_code == 429  # a stolen cookie is no key


def test_a_forged_or_foreign_known_browser_cookie_counts_for_nothing(browser, db, runtime, clock):
    owner, form = create_resident(db, runtime)
    other, other_form = create_resident(db, runtime)
    browser.sign_in(other_form["email"])  # known to another account only
    browser.post("/signout")
    cookie = browser.client.cookies.get(known_device.COOKIE)
    tag, device, issued, mac = cookie.split(".")
    browser.client.cookies.set(
        known_device.COOKIE, ".".join([tag, device, issued, "0" * len(mac)]), path="/signin"
    )
    for _ in range(5):
        browser.sign_in(form["email"], "wrong password 1")
    assert browser.sign_in(form["email"], PASSWORD).status_code == 429


def test_unknown_identifiers_are_throttled_like_real_accounts(browser, db, runtime, clock):
    for _ in range(5):
        browser.sign_in("A123456(3)", "wrong password 1")
    assert browser.sign_in("A123456(3)", "wrong password 1").status_code == 429


def test_many_identifiers_from_one_network_slow_it_but_lock_no_one(browser, db, runtime, clock, monkeypatch):
    pauses = []
    monkeypatch.setattr(flows.time, "sleep", pauses.append)
    for index in range(throttling.NETWORK_FREE_FAILURES + 10):
        browser.sign_in(f"nobody{index}@example.hk", "wrong password 1")
    _account, form = create_resident(db, runtime)
    assert Browser(runtime).sign_in(form["email"], PASSWORD).status_code == 303
    assert pauses and max(pauses) <= throttling.MAX_PAUSE_SECONDS


def test_a_second_factor_account_under_attack_answers_alike_and_the_owner_passes(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    secret, _codes = _enable_totp(db, runtime, account)
    clock.advance(seconds=60)
    attacker = Browser(runtime, address="203.0.113.66")
    for _ in range(50):
        clock.advance(minutes=16)  # past the waits of the attacker's (network, identifier) pair
        attacker.sign_in(form["email"], "wrong password 1")
    clock.advance(minutes=16)
    # Past five failures a wrong password is asked for a code like a right one: guessing
    # the password alone teaches nothing, and no code completes it.
    decoy = attacker.sign_in(form["email"], "wrong password 1")
    assert decoy.status_code == 303 and decoy.headers["location"] == "/signin/second-factor"
    page = attacker.get("/signin/second-factor")
    assert "Two-step verification" in page.text
    code = pyotp.TOTP(secret).at(clock.now)
    assert attacker.post("/signin/second-factor", {"code": code}).status_code == 400
    assert "The code is not correct." in attacker.post("/signin/second-factor", {"code": code}).text
    assert not _sessions(db, account.id)

    owner = Browser(runtime, address="198.51.100.7")  # unknown: a right password and code pass
    assert owner.sign_in(form["email"]).headers["location"] == "/signin/second-factor"
    done = owner.post("/signin/second-factor", {"code": code}, follow_redirects=False)
    assert done.status_code == 303
    [session] = _sessions(db, account.id)
    assert session.acr == ACR_MFA


def test_the_owner_is_told_once_per_window(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    account.email_verified_at = clock.now
    db.flush()
    for _ in range(12):
        browser.sign_in(form["email"], "wrong password 1")
        clock.advance(minutes=16)
    notices = [m for m in outbox_messages(db, runtime) if m.subject == GUESSING_SUBJECT]
    assert [m.recipient for m in notices] == [form["email"]]
    assert "wrong password" in notices[0].body and "wrong password 1" not in notices[0].body
    clock.advance(hours=25)
    for _ in range(5):
        browser.sign_in(form["email"], "wrong password 1")
    assert len([m for m in outbox_messages(db, runtime) if m.subject == GUESSING_SUBJECT]) == 2


def test_totp_account_needs_the_second_factor_and_a_code_is_accepted_once(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    secret, _codes = _enable_totp(db, runtime, account)
    clock.advance(seconds=60)
    response = browser.sign_in(form["email"], next_path="/account/security")
    assert response.headers["location"] == "/signin/second-factor"
    assert not _sessions(db, account.id)
    page = browser.get("/signin/second-factor")
    assert "Two-step verification" in page.text
    code = pyotp.TOTP(secret).at(clock.now)
    done = browser.post("/signin/second-factor", {"code": code}, follow_redirects=False)
    assert done.headers["location"] == "/account/security"
    [session] = _sessions(db, account.id)
    assert session.acr == ACR_MFA and session.amr == ["pwd", "otp"]

    other = Browser(runtime)  # someone who watched the code being typed
    other.sign_in(form["email"])
    replay = other.post("/signin/second-factor", {"code": code})
    assert replay.status_code == 400 and "The code is not correct." in replay.text


def test_recovery_code_signs_in_once(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    _secret, codes = _enable_totp(db, runtime, account)
    browser.sign_in(form["email"])
    done = browser.post("/signin/second-factor", {"code": codes[0].upper()}, follow_redirects=False)
    assert done.status_code == 303
    assert "recovery_code.used" in [e.tag for e in _events(db, account.id)]
    again = Browser(runtime)
    again.sign_in(form["email"])
    assert again.post("/signin/second-factor", {"code": codes[0]}).status_code == 400
    assert accounts.remaining_recovery_codes(db, account.id) == 9


def test_five_wrong_second_factor_codes_restart_the_sign_in(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    _enable_totp(db, runtime, account)
    browser.sign_in(form["email"])
    for _ in range(2):
        assert browser.post("/signin/second-factor", {"code": "000000"}).status_code == 400
    clock.advance(seconds=11)
    browser.post("/signin/second-factor", {"code": "000000"})
    clock.advance(seconds=31)
    browser.post("/signin/second-factor", {"code": "000000"})
    clock.advance(minutes=20)
    last = browser.post("/signin/second-factor", {"code": "000000"}, follow_redirects=False)
    assert last.headers["location"].startswith("/signin?")
    assert "second_factor.restart" in last.headers["location"]
    assert "signin.second_factor_failure" in [e.tag for e in _events(db, account.id)]


def test_step_up_keeps_the_session_and_raises_its_level(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    secret, _codes = _enable_totp(db, runtime, account)  # set up after signing in: session is basic
    [before] = _sessions(db, account.id)
    assert before.acr == ACR_BASIC
    clock.advance(seconds=90)

    plain = browser.get("/signin?next=/account/activity", follow_redirects=False)
    assert plain.headers["location"] == "/account/activity"  # already signed in, basic is enough
    step = browser.get(
        f"/signin?next=/authorize/continue&acr={ACR_MFA}&ui_locales=zh-HK", follow_redirects=False
    )
    assert step.headers["location"].startswith("/signin/second-factor")
    page = browser.get(step.headers["location"])
    assert "較高的認證級別" in page.text
    done = browser.post(
        "/signin/second-factor", {"code": pyotp.TOTP(secret).at(clock.now)}, follow_redirects=False
    )
    assert done.headers["location"] == "/authorize/continue"
    [after] = _sessions(db, account.id)
    assert after.id == before.id
    assert after.acr == ACR_MFA and after.amr == ["pwd", "otp"] and after.auth_time == clock.now


def test_mfa_request_without_a_second_factor_continues_at_basic_level(browser, db, runtime):
    _account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    response = browser.get(f"/signin?next=/x&acr={ACR_MFA}", follow_redirects=False)
    assert response.headers["location"] == "/x"


def test_prompt_login_asks_again_and_updates_auth_time(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    [first] = _sessions(db, account.id)
    clock.advance(minutes=5)
    page = browser.get(f"/signin?next=/x&prompt=login&login_hint={form['email']}")
    assert page.status_code == 200 and f'value="{form["email"]}"' in page.text
    response = browser.post(
        "/signin?next=/x&prompt=login",
        {"identifier": form["email"], "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/x"
    [again] = _sessions(db, account.id)
    assert again.id == first.id and again.auth_time == clock.now


def test_signing_in_as_someone_else_ends_the_previous_session(browser, db, runtime):
    first, first_form = create_resident(db, runtime)
    second, second_form = create_resident(db, runtime)
    browser.sign_in(first_form["email"])
    browser.post("/signin?prompt=login", {"identifier": second_form["email"], "password": PASSWORD})
    assert all(s.ended_at is not None for s in _sessions(db, first.id))
    assert [s.ended_at for s in _sessions(db, second.id)] == [None]


def test_password_hash_is_upgraded_when_parameters_change(db, runtime):
    account, form = create_resident(db, runtime)
    old_hash = account.password_hash
    runtime.settings.argon2_time_cost = 2
    try:
        # Settings are read once, when the app is built: the new parameters come with a restart.
        browser = Browser(runtime)
        assert browser.sign_in(form["email"]).status_code == 303
    finally:
        runtime.settings.argon2_time_cost = 1
    db.refresh(account)
    assert account.password_hash != old_hash and "t=2" in account.password_hash


def test_forms_without_a_valid_csrf_token_are_refused_and_change_nothing(browser, db, runtime):
    _account, form = create_resident(db, runtime)
    browser.get("/signin")
    forged = browser.client.post(
        "/signin", data={"identifier": form["email"], "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 400 and "This form has expired" in forged.text
    missing = browser.client.post("/signin", data={"identifier": form["email"], "password": PASSWORD})
    assert missing.status_code == 400
    cross_site = browser.client.post(
        "/signin",
        data={"identifier": form["email"], "password": PASSWORD, "csrf_token": browser.token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 400
    assert "egate_session" not in browser.client.cookies


def test_language_from_ui_locales_cookie_and_accept_language(browser):
    assert '<html lang="zh-Hant-HK">' in browser.get("/signin?ui_locales=fr zh-Hant").text
    assert (
        '<html lang="en">'
        in browser.get("/signin?ui_locales=de", headers={"Accept-Language": "fr, en;q=0.5"}).text
    )
    assert '<html lang="zh-Hant-HK">' in browser.get("/signin", headers={"Accept-Language": "zh-HK"}).text
    switched = browser.get("/signin?next=/x&lang=zh-HK")
    assert "登入" in switched.text and switched.cookies.get("lang") == "zh-HK"
    assert 'href="/signin?next=%2Fx&amp;lang=en"' in switched.text  # the switch keeps the page
    assert '<html lang="zh-Hant-HK">' in browser.get("/signin?ui_locales=en").text  # cookie wins


def test_sign_out_ends_the_session(browser, db, runtime):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    response = browser.post("/signout", follow_redirects=False)
    assert response.headers["location"] == "/signin?notice=notice.signed_out"
    assert all(s.ended_at is not None for s in _sessions(db, account.id))
    assert browser.get("/account", follow_redirects=False).headers["location"] == "/signin?next=/account"
