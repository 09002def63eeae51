"""Back-channel logout on a live gateway: a department registered with a
``backchannel_logout_uri`` receives, within seconds of the resident signing out, signing
out everywhere or changing the password, a logout token that its own receiver verifies with
PyJWT against the published JWKS (tests/support/logout_receiver.py), naming the ``sid`` and
``sub`` of the ID token it was given; and the forms hub's own session, even a stolen copy of
its cookie, ends with the resident's at the provider."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import requests

from forms_hub.oidc_client.service import set_client_credentials
from kit.db import session_scope
from tests.e2e.conftest import Gateway, form_fields, gateway  # noqa: F401 - the live gateway fixture
from tests.e2e.oidc_client import Department, follow_to_callback
from tests.support.logout_receiver import LogoutReceiver

PASSWORD = "a long demo passphrase"  # Gateway.new_resident's


@pytest.fixture
def receiver(gateway: Gateway) -> Iterator[LogoutReceiver]:  # noqa: F811
    receiver = LogoutReceiver(gateway.base_url, f"{gateway.base_url}/jwks")
    yield receiver
    receiver.stop()


def signed_in_department(gateway: Gateway, receiver: LogoutReceiver):  # noqa: F811
    """A resident's browser, and a department that signed them in through it (real code flow)."""
    client_id, secret = gateway.register_client(backchannel_logout_uri=receiver.url)
    receiver.audience = client_id
    department = Department(gateway.base_url, client_id, secret)
    browser = gateway.browser(gateway.new_resident(password=PASSWORD))
    oauth = department.session("openid")
    url, nonce = department.start(oauth)
    tokens = department.exchange(oauth, follow_to_callback(browser, url))
    id_token = department.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    return browser, id_token


def page_form(browser: requests.Session, url: str) -> dict[str, str]:
    return form_fields(browser.get(url, timeout=10).text)


def sign_out(gateway: Gateway, browser: requests.Session) -> None:  # noqa: F811
    csrf = page_form(browser, f"{gateway.base_url}/account")["csrf_token"]
    answer = browser.post(f"{gateway.base_url}/signout", data={"csrf_token": csrf}, timeout=10)
    assert answer.status_code == 200 and "/signin" in answer.url


def sign_out_everywhere(gateway: Gateway, browser: requests.Session) -> None:  # noqa: F811
    csrf = page_form(browser, f"{gateway.base_url}/account/security")["csrf_token"]
    end_all = f"{gateway.base_url}/account/sessions/end-all"
    answer = browser.post(end_all, data={"csrf_token": csrf}, timeout=10)
    assert answer.status_code == 200


def change_password(gateway: Gateway, browser: requests.Session) -> None:  # noqa: F811
    csrf = page_form(browser, f"{gateway.base_url}/account/security")["csrf_token"]
    fields = {"current_password": PASSWORD, "new_password": "another long phrase", "csrf_token": csrf}
    answer = browser.post(
        f"{gateway.base_url}/account/security/password",
        data={**fields, "new_password_confirm": fields["new_password"]},
        timeout=10,
    )
    assert answer.status_code == 200 and "password_changed" in answer.url


def test_signing_out_delivers_a_verified_token_naming_the_session(gateway, receiver):  # noqa: F811
    browser, id_token = signed_in_department(gateway, receiver)
    started = time.monotonic()
    sign_out(gateway, browser)
    [claims] = receiver.wait_for(1, timeout=5)
    assert time.monotonic() - started < 5
    assert claims["sid"] == id_token["sid"] and claims["sub"] == id_token["sub"]
    assert claims["aud"] == receiver.audience and receiver.refused == []


@pytest.mark.parametrize("action", [sign_out_everywhere, change_password])
def test_account_wide_events_deliver_a_verified_token_naming_the_resident(gateway, receiver, action):  # noqa: F811
    browser, id_token = signed_in_department(gateway, receiver)
    action(gateway, browser)
    [claims] = receiver.wait_for(1, timeout=5)
    assert claims["sub"] == id_token["sub"] and "sid" not in claims
    assert receiver.refused == []


@pytest.fixture(scope="module")
def hub_client(gateway):  # noqa: F811
    """The forms hub registered for back-channel logout at its own endpoint."""
    base = gateway.base_url
    client_id, secret = gateway.register_client(
        client_id=f"forms-hub-{secrets.token_hex(4)}",
        name="e-Gateway forms",
        department="FORMSHUB",
        redirect_uris=[f"{base}/forms/auth/callback"],
        post_logout_redirect_uris=(f"{base}/forms/",),
        grant_types=("authorization_code", "refresh_token"),
        allowed_scopes=("openid", "profile"),
        subject_type="public",
        first_party=True,
        backchannel_logout_uri=f"{base}/forms/api/backchannel-logout",
    )
    for db in session_scope(gateway.runtime.sessions):
        set_client_credentials(db, gateway.runtime.master_key, client_id, secret, gateway.runtime.clock())
    return client_id


def reads_my_forms(gateway: Gateway, browser: requests.Session) -> bool:  # noqa: F811
    answer = browser.get(f"{gateway.base_url}/forms/my", allow_redirects=False, timeout=10)
    return answer.status_code == 200


@pytest.mark.parametrize("action", [sign_out, sign_out_everywhere, change_password])
def test_a_stolen_hub_cookie_dies_with_the_residents_session(gateway, hub_client, action):  # noqa: F811
    browser = gateway.browser(gateway.new_resident(password=PASSWORD))
    landing = browser.get(f"{gateway.base_url}/forms/auth/login", timeout=10)
    assert landing.url.endswith("/forms/my")
    attacker = requests.Session()
    attacker.cookies.set("forms_session", browser.cookies.get("forms_session", path="/forms"), path="/forms")
    assert reads_my_forms(gateway, attacker)

    action(gateway, browser)
    deadline = time.monotonic() + 5
    while reads_my_forms(gateway, attacker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not reads_my_forms(gateway, attacker)
    assert not reads_my_forms(gateway, browser)
