from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from identity.accounts import service as accounts
from identity.accounts.models import Account, AccountEvent
from identity.sessions.models import BrowserSession
from identity.tokens.models import IssuedToken
from tests.identity.accounts.factories import (
    PASSWORD,
    Browser,
    create_resident,
    enrolment_form,
    keyring_of,
    latest_code,
    outbox_messages,
)


def _enrolled(browser, db, runtime):
    form = enrolment_form()
    browser.post("/enrol", form)
    account = db.scalars(select(Account).where(Account.email_index.is_not(None))).all()[-1]
    return account, form


def _live_sessions(db, account_id):
    db.expire_all()
    return db.scalars(
        select(BrowserSession).where(
            BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
        )
    ).all()


def test_email_and_phone_are_verified_with_codes_from_the_outbox(browser, db, runtime):
    account, form = _enrolled(browser, db, runtime)
    wrong = browser.post("/account/verify/email", {"code": "000000"})
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
    ok = browser.post("/account/verify/email", {"code": latest_code(db, runtime, form["email"])})
    assert "Your email address has been verified." in ok.text
    ok = browser.post("/account/verify/phone", {"code": latest_code(db, runtime, "+85291234567")})
    assert "Your mobile number has been verified." in ok.text
    db.refresh(account)
    assert account.email_verified_at and account.phone_verified_at
    assert "Verified" in browser.get("/account").text


def test_a_code_dies_after_five_wrong_guesses(browser, db, runtime):
    _account, form = _enrolled(browser, db, runtime)
    code = latest_code(db, runtime, form["email"])
    for _ in range(5):
        browser.post("/account/verify/email", {"code": "000000" if code != "000000" else "111111"})
    assert browser.post("/account/verify/email", {"code": code}).status_code == 400


def test_a_new_code_can_be_sent_within_limits(browser, db, runtime):
    _account, form = _enrolled(browser, db, runtime)
    first = latest_code(db, runtime, form["email"])
    page = browser.post("/account/verify/email/resend")
    assert "We have sent you a new code." in page.text
    for _ in range(5):
        page = browser.post("/account/verify/email/resend")
    assert "We could not send another code now." in page.text
    assert browser.post("/account/verify/email", {"code": first}).status_code == 400  # superseded


def test_changing_the_email_needs_verification_again_and_cannot_take_anothers(browser, db, runtime):
    account, form = _enrolled(browser, db, runtime)
    browser.post("/account/verify/email", {"code": latest_code(db, runtime, form["email"])})
    other, other_form = create_resident(db, runtime)
    taken = browser.post(
        "/account/profile", {"email": other_form["email"], "phone": form["phone"], "address": "New address"}
    )
    assert taken.status_code == 400 and "This email address cannot be used" in taken.text
    db.refresh(account)
    assert accounts.load_profile(keyring_of(runtime), account).address == form["address"]

    changed = browser.post(
        "/account/profile",
        {"email": "new.address@example.hk", "phone": form["phone"], "address": "New address"},
    )
    assert "Verify your email address" in changed.text
    db.refresh(account)
    assert account.email_verified_at is None
    assert accounts.find_by_identifier(db, keyring_of(runtime), "new.address@example.hk").id == account.id
    assert outbox_messages(db, runtime)[-1].recipient == "new.address@example.hk"
    event = db.scalars(select(AccountEvent).where(AccountEvent.tag == "profile.updated")).one()
    assert event.details == {"fields": ["email", "address"]}


def test_password_change_needs_the_current_one_and_signs_out_other_sessions(browser, db, runtime):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    elsewhere = Browser(runtime)
    elsewhere.sign_in(form["email"])
    wrong = browser.post(
        "/account/security/password",
        {
            "current_password": "nope",
            "new_password": "a brand new phrase",
            "new_password_confirm": "a brand new phrase",
        },
    )
    assert wrong.status_code == 400 and 'id="current_password-error"' in wrong.text
    weak = browser.post(
        "/account/security/password",
        {"current_password": PASSWORD, "new_password": "12345678", "new_password_confirm": "12345678"},
    )
    assert 'id="new_password-error"' in weak.text
    ok = browser.post(
        "/account/security/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new phrase",
            "new_password_confirm": "a brand new phrase",
        },
    )
    assert "Your password has been changed." in ok.text
    assert len(_live_sessions(db, account.id)) == 1
    assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    assert browser.get("/account").status_code == 200


def test_sessions_are_listed_and_can_be_ended_one_by_one_or_all(browser, db, runtime):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    phones = [Browser(runtime) for _ in range(2)]
    for phone in phones:
        phone.client.headers["user-agent"] = "Phone browser"
        phone.sign_in(form["email"])
    page = browser.get("/account/security")
    assert page.text.count("Sign out this session") == 2 and "This device" in page.text
    target = next(s for s in _live_sessions(db, account.id) if s.user_agent == "Phone browser")
    browser.post("/account/sessions/end", {"session": target.id})
    assert len(_live_sessions(db, account.id)) == 2
    browser.post("/account/sessions/end-all")
    assert len(_live_sessions(db, account.id)) == 1
    assert all(p.get("/account", follow_redirects=False).status_code == 303 for p in phones)
    tags = db.scalars(select(AccountEvent.tag).where(AccountEvent.account_id == account.id)).all()
    assert "session.ended" in tags and "sessions.ended_all" in tags


def test_cannot_end_someone_elses_session(browser, db, runtime):
    _mine, form = create_resident(db, runtime)
    theirs, their_form = create_resident(db, runtime)
    other = Browser(runtime)
    other.sign_in(their_form["email"])
    browser.sign_in(form["email"])
    [their_session] = _live_sessions(db, theirs.id)
    browser.post("/account/sessions/end", {"session": their_session.id})
    assert _live_sessions(db, theirs.id)


def test_totp_set_up_shows_qr_and_key_and_confirms_with_a_code(browser, db, runtime, clock):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"])
    page = browser.get("/account/security/totp")
    assert '<svg role="img"' in page.text
    import re

    key = re.search(r'id="manual-key"[^>]*>([^<]+)<', page.text).group(1).replace(" ", "")
    assert browser.get("/account/security/totp").text.count(key[:4]) >= 1  # same key on reload
    wrong = browser.post("/account/security/totp", {"code": "123456"})
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
    codes_page = browser.post("/account/security/totp", {"code": pyotp.TOTP(key).at(clock.now)})
    codes = re.findall(r"<li><code>([^<]+)</code></li>", codes_page.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.refresh(account)
    assert accounts.has_totp(account)
    assert "Recovery codes left: 10." in browser.get("/account/security").text

    again = browser.post("/account/security/recovery-codes", {"recovery_password": PASSWORD})
    assert set(re.findall(r"<li><code>([^<]+)</code></li>", again.text)).isdisjoint(codes)
    refused = browser.post("/account/security/totp/disable", {"password": "wrong"})
    assert refused.status_code == 400 and accounts.has_totp(account)
    browser.post("/account/security/totp/disable", {"password": PASSWORD})
    db.refresh(account)
    assert not accounts.has_totp(account) and accounts.remaining_recovery_codes(db, account.id) == 0


def test_activity_lists_sign_ins_failures_and_changes_in_both_languages(browser, db, runtime):
    account, form = create_resident(db, runtime)
    browser.sign_in(form["email"], "wrong password 1")
    browser.sign_in(form["email"])
    page = browser.get("/account/activity")
    assert "Sign-in failed: wrong password" in page.text and "Signed in" in page.text
    assert page.text.index("Signed in") < page.text.index("Sign-in failed")  # newest first
    chinese = browser.get("/account/activity?lang=zh-HK")
    assert "登入失敗：密碼錯誤" in chinese.text


@pytest.mark.parametrize("verified", [True])
def test_password_reset_by_emailed_code_revokes_sessions_and_tokens(browser, db, runtime, clock, verified):
    account, form = create_resident(db, runtime)
    account.email_verified_at = clock.now
    browser.sign_in(form["email"])
    db.add(
        IssuedToken(
            jti="t1",
            kind="refresh",
            token_hash="h1",
            client_id="c",
            account_id=account.id,
            scope="openid",
            family_id="f",
            issued_at=clock.now,
            expires_at=clock.now + timedelta(days=1),
        )
    )
    db.flush()
    visitor = Browser(runtime)
    sent = visitor.post("/reset", {"identifier": form["hkid"]})
    assert "we have sent it a code" in sent.text
    code = latest_code(db, runtime, form["email"])
    weak = visitor.post(
        "/reset/confirm",
        {
            "identifier": form["hkid"],
            "code": code,
            "new_password": "password1",
            "new_password_confirm": "password1",
        },
    )
    assert 'id="new_password-error"' in weak.text
    wrong = visitor.post(
        "/reset/confirm",
        {
            "identifier": form["hkid"],
            "code": "000000" if code != "000000" else "111111",
            "new_password": "my new long phrase",
            "new_password_confirm": "my new long phrase",
        },
    )
    assert 'id="code-error"' in wrong.text
    done = visitor.post(
        "/reset/confirm",
        {
            "identifier": form["hkid"],
            "code": code,
            "new_password": "my new long phrase",
            "new_password_confirm": "my new long phrase",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/signin?notice=notice.password_reset"
    assert not _live_sessions(db, account.id)
    db.expire_all()
    assert db.get(IssuedToken, "t1").revoked_at == clock.now
    assert browser.get("/account", follow_redirects=False).status_code == 303
    assert visitor.sign_in(form["email"], "my new long phrase").status_code == 303
    assert outbox_messages(db, runtime)[-1].subject.startswith("e-Gateway password changed")
    tags = db.scalars(select(AccountEvent.tag).where(AccountEvent.account_id == account.id)).all()
    assert {"password.reset_requested", "password.reset", "sessions.ended_all"} <= set(tags)


def test_password_reset_answers_the_same_for_unknown_or_unverified_accounts(browser, db, runtime):
    _account, form = create_resident(db, runtime)  # email not verified: nowhere safe to send
    known = browser.post("/reset", {"identifier": form["email"]})
    unknown = browser.post("/reset", {"identifier": "nobody@example.hk"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(form["email"], "X").replace(browser.token, "") == unknown.text.replace(
        "nobody@example.hk", "X"
    ).replace(browser.token, "")
    assert outbox_messages(db, runtime) == []
    refused = browser.post(
        "/reset/confirm",
        {
            "identifier": "nobody@example.hk",
            "code": "123456",
            "new_password": "my new long phrase",
            "new_password_confirm": "my new long phrase",
        },
    )
    assert refused.status_code == 400 and "The code is not correct or has expired." in refused.text


def test_account_pages_need_a_session(browser):
    for path in ("/account", "/account/security", "/account/activity", "/account/profile"):
        response = browser.get(path, follow_redirects=False)
        assert response.headers["location"] == f"/signin?next={path}"


def test_a_deployment_never_shows_where_the_outbox_files_are(browser, db, runtime):
    """The development case (a loopback issuer) is checked in Chromium: tests/browser/test_every_page.py."""
    _enrolled(browser, db, runtime)
    assert not runtime.settings.is_development and runtime.settings.mail_backend == "file"
    page = browser.get("/account/verify/email")
    assert page.status_code == 200 and 'id="development-outbox"' not in page.text
