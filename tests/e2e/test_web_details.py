"""The web details of issue 12 (item 10), attacked over real HTTP: HSTS on every response
of an https deployment; the session cookie rotated on re-authentication and step-up (an old
cookie no longer signs anyone in); ``GET /logout`` without ``id_token_hint`` asks first."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
import requests

import tests.e2e.test_oidc_code_flow as code_flow
from egate.app import create_app
from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.assurance import ACR_MFA
from identity.security.keyring import build_keyring
from identity.sessions.service import SESSION_COOKIE
from kit.db import session_scope
from kit.runtime import Runtime
from tests.e2e.conftest import form_fields
from tests.e2e.test_role_scopes import STAFF_PASSWORD, new_staff
from tests.support.live_server import free_port, start_live_server

HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture
def https_gateway(runtime) -> Iterator[str]:
    """The whole gateway, its issuer https (as behind a TLS-terminating proxy)."""
    settings = runtime.settings.model_copy(update={"issuer": "https://egate.example.gov.hk"})
    app = create_app(Runtime(settings, runtime.engine, runtime.sessions, runtime.master_key))
    server = start_live_server(app, free_port())
    yield server.base_url
    server.stop()


def test_every_response_of_an_https_deployment_carries_hsts(https_gateway):
    for path in (
        "/.well-known/openid-configuration",
        "/signin",
        "/health/live",
        "/consent/ledger/public-key",
        "/forms/api/forms",
        "/no-such-page",
    ):
        response = requests.get(https_gateway + path, allow_redirects=False, timeout=10)
        assert response.headers.get("strict-transport-security") == HSTS, path
    refused = requests.post(f"{https_gateway}/token", data={"grant_type": "client_credentials"}, timeout=10)
    assert (
        refused.status_code == 400 and refused.headers["strict-transport-security"] == HSTS
    )  # invalid_client


def test_a_plain_http_deployment_sends_no_hsts(gateway):
    response = requests.get(f"{gateway.base_url}/.well-known/openid-configuration", timeout=10)
    assert "strict-transport-security" not in response.headers


# -- the session cookie rotates on re-authentication ------------------------------------------


def signed_in_staff(gateway) -> tuple[str, str, requests.Session]:
    username = f"clerk-{secrets.token_hex(4)}"
    account_id = new_staff(gateway, ["officer"], username=username)
    browser = requests.Session()
    page = browser.get(f"{gateway.base_url}/signin", timeout=10)
    done = browser.post(
        f"{gateway.base_url}/signin?next=/account",
        data={**form_fields(page.text), "identifier": username, "password": STAFF_PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account", done.text[:300]
    return account_id, username, browser


def session_cookie(browser: requests.Session) -> str:
    return browser.cookies.get(SESSION_COOKIE)


def signs_in(gateway, cookie: str) -> bool:
    """Whether a browser holding only this cookie reaches the signed-in account page."""
    response = requests.get(
        f"{gateway.base_url}/account", cookies={SESSION_COOKIE: cookie}, allow_redirects=False, timeout=10
    )
    return response.status_code == 200


def test_prompt_login_gives_the_session_a_new_cookie_and_the_old_one_stops_working(gateway):
    _, username, browser = signed_in_staff(gateway)
    old = session_cookie(browser)
    assert signs_in(gateway, old)
    page = browser.get(f"{gateway.base_url}/signin?next=/account&prompt=login", timeout=10)
    again = browser.post(
        f"{gateway.base_url}/signin?next=/account&prompt=login",
        data={**form_fields(page.text), "identifier": username, "password": STAFF_PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 303
    new = session_cookie(browser)
    assert new and new != old
    assert signs_in(gateway, new)
    assert not signs_in(gateway, old)


def test_a_step_up_gives_the_session_a_new_cookie_and_the_old_one_stops_working(gateway):
    account_id, _, browser = signed_in_staff(gateway)
    runtime = gateway.runtime
    keyring = build_keyring(runtime.master_key, runtime.settings.field_key_generation)
    for db in session_scope(runtime.sessions):
        account = accounts_repository.get(db, account_id)
        secret = accounts.begin_totp_setup(keyring, account)
        now = runtime.clock()
        code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
        accounts.confirm_totp(db, keyring, account, code, None, now)
    old = session_cookie(browser)
    step = browser.get(f"{gateway.base_url}/signin?next=/account&acr={ACR_MFA}", timeout=10)
    assert step.url.endswith("/signin/second-factor"), step.url
    done = browser.post(
        f"{gateway.base_url}/signin/second-factor",
        data={**form_fields(step.text), "code": pyotp.TOTP(secret).now()},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account", done.text[:300]
    new = session_cookie(browser)
    assert new and new != old
    assert signs_in(gateway, new)
    assert not signs_in(gateway, old)


# -- logout CSRF ------------------------------------------------------------------------------


def test_logout_without_id_token_hint_asks_first_and_only_a_csrf_checked_post_signs_out(gateway):
    _, _, browser = signed_in_staff(gateway)
    cookie = session_cookie(browser)
    # What another site's <img src="https://egate/logout"> makes the browser do:
    page = browser.get(f"{gateway.base_url}/logout", allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert 'method="post" action="/logout"' in page.text and 'name="csrf_token"' in page.text
    assert signs_in(gateway, cookie)
    # A cross-site form post cannot know the token:
    forged = browser.post(f"{gateway.base_url}/logout", data={"csrf_token": "guess"}, timeout=10)
    assert forged.status_code == 400
    without = browser.post(f"{gateway.base_url}/logout", data={}, timeout=10)
    assert without.status_code == 200 and 'action="/logout"' in without.text
    assert signs_in(gateway, cookie)
    # The person confirms:
    confirmed = browser.post(f"{gateway.base_url}/logout", data=form_fields(page.text), timeout=10)
    assert confirmed.status_code == 200
    assert not signs_in(gateway, cookie)


def test_the_confirmation_carries_the_registered_return_address(gateway):
    dept = code_flow.department(gateway)
    _, _, browser = signed_in_staff(gateway)
    params = {
        "client_id": dept.client_id,
        "post_logout_redirect_uri": "https://dept.example.gov.hk/signed-out",
        "state": "s2",
    }
    page = browser.get(f"{gateway.base_url}/logout", params=params, timeout=10)
    fields = form_fields(page.text)
    assert {k: fields[k] for k in params} == params
    done = browser.post(f"{gateway.base_url}/logout", data=fields, allow_redirects=False, timeout=10)
    assert done.status_code == 303
    assert done.headers["location"] == "https://dept.example.gov.hk/signed-out?state=s2"
    bad = browser.get(
        f"{gateway.base_url}/logout", params={**params, "post_logout_redirect_uri": "https://evil.example/"}
    )
    assert bad.status_code == 400


def test_logout_with_a_valid_id_token_hint_still_signs_out_at_once(gateway):
    dept = code_flow.department(gateway)
    tokens, _, browser = code_flow.sign_in_and_get_tokens(
        gateway, dept, gateway.new_resident(), scope="openid"
    )
    cookie = session_cookie(browser)
    assert signs_in(gateway, cookie)
    response = browser.get(
        f"{gateway.base_url}/logout", params={"id_token_hint": tokens["id_token"]}, timeout=10
    )
    assert response.status_code == 200 and 'action="/logout"' not in response.text
    assert not signs_in(gateway, cookie)
