"""prompt=select_account (OIDC Core §3.1.2.1): the authorization endpoint's decision to send
the browser to the account choice, once per request, and where it sends it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from identity.assurance import ACR_BASIC
from identity.oidc.authorize import SignInNeeded, authentication_step, parse_parameters, sign_in_location
from identity.sessions.service import SignedInSession
from kit.db import utcnow

REDIRECT = "https://dept.example/cb"
NOW = utcnow()
SESSION = SignedInSession("s1", "a1", NOW - timedelta(minutes=5), ACR_BASIC, ("pwd",))


def step(prompt: str, session: SignedInSession | None, demanded_at=None, **extra: str):
    params = parse_parameters({"response_type": "code", "prompt": prompt, **extra}, REDIRECT)
    return authentication_step(params, session, NOW, REDIRECT, demanded_at, None)


def test_a_signed_in_browser_is_sent_to_choose_then_goes_on_with_its_choice():
    assert step("select_account", SESSION) == SignInNeeded(None, force=False, select_account=True)
    # Back from the choice (the request's own demand): the session chosen is used.
    assert step("select_account", SESSION, demanded_at=NOW - timedelta(seconds=10)) == SESSION


def test_without_a_session_the_sign_in_itself_is_the_choice():
    assert step("select_account", None) == SignInNeeded(None, force=False, select_account=True)
    assert step("select_account", None, demanded_at=NOW) == SignInNeeded(None, force=False)


def test_login_wins_over_select_account_and_a_plain_request_is_not_asked():
    # A new sign-in is itself the choice of an account.
    assert step("login select_account", SESSION) == SignInNeeded(None, force=True)
    assert step("", SESSION) == SESSION


def test_the_sign_in_page_is_told_which_prompt():
    location = sign_in_location(
        {"client_id": "d", "ui_locales": "zh-HK"}, SignInNeeded(None, False, True), "h"
    )
    query = parse_qs(urlsplit(location).query)
    assert query["prompt"] == ["select_account"] and query["ui_locales"] == ["zh-HK"]
    assert "egate_resume=h" in query["next"][0]
    forced = sign_in_location({}, SignInNeeded(None, True, True), "h")
    assert parse_qs(urlsplit(forced).query)["prompt"] == ["login"]
