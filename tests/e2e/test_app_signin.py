"""Signing in with the phone app: QR across devices, app-to-app, back-channel (CIBA), and
every refusal. The department is requests-oauthlib; the phone is devtools.phone_app.PhoneApp,
which speaks to the provider over HTTP only."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests

from devtools.phone_app import PhoneApp, request_id_from
from identity.assurance import ACR_DEVICE
from kit.db import session_scope
from tests.e2e.conftest import form_fields
from tests.e2e.oidc_client import follow_to_callback, query_of
from tests.e2e.test_oidc_code_flow import department

PASSWORD = "a long demo passphrase"


@pytest.fixture
def resident_with_phone(gateway, tmp_path):
    from egate.demo import seed_phone_app_client
    from identity.accounts.models import Account
    from identity.residents.hkid import format_hkid
    from identity.security.keyring import build_keyring

    for db in session_scope(gateway.runtime.sessions):
        seed_phone_app_client(db, gateway.runtime)
    account_id = gateway.new_resident(PASSWORD)
    for db in session_scope(gateway.runtime.sessions):
        account = db.get(Account, account_id)
        from identity.accounts.service import account_hkid

        identifier = format_hkid(
            account_hkid(
                build_keyring(gateway.runtime.master_key, gateway.runtime.settings.field_key_generation),
                account,
            )
        )
    phone = PhoneApp(gateway.base_url, tmp_path / "phone.json")
    phone.sign_in_and_bind(identifier, PASSWORD, device_name="Test phone")
    return account_id, phone


def resume(browser, gateway, waiting):
    """The waiting page moves on by itself; follow it back into the authorization request."""
    moved = browser.get(gateway.base_url + waiting, allow_redirects=False, timeout=10)
    assert moved.status_code == 303
    return follow_to_callback(browser, gateway.base_url + moved.headers["location"])


def start_in_browser(gateway, dept, scope="openid profile"):
    """The department sends a browser without a session to the provider, which chooses
    "sign in with the app": returns the browser, the department's session, the QR link, the code."""
    oauth = dept.session(scope)
    url, nonce = dept.start(oauth)
    browser = requests.Session()
    signin = browser.get(url, allow_redirects=True, timeout=10)
    assert "/signin" in signin.url
    fields = form_fields(signin.text.split('action="/signin/app/start"', 1)[1])
    started = browser.post(
        f"{gateway.base_url}/signin/app/start", data=fields, allow_redirects=False, timeout=10
    )
    assert started.status_code == 303
    page = browser.get(gateway.base_url + started.headers["location"], timeout=10)
    assert page.status_code == 200 and page.headers.get("refresh")
    link = re.search(r'href="([^"]+)" id="open-app"', page.text).group(1)
    code = re.search(r'id="short-code">([A-Z0-9]{4})<', page.text).group(1)
    return browser, oauth, nonce, link, code, started.headers["location"]


def test_qr_sign_in_across_devices_reaches_the_department_with_device_assurance(gateway, resident_with_phone):
    account_id, phone = resident_with_phone
    dept = department(gateway)
    browser, oauth, nonce, link, code, waiting = start_in_browser(gateway, dept)
    assert set(parse_qs(urlsplit(link).query)) == {"rid"}  # nothing personal, no secret
    details = phone.view(link)
    assert details["code"] == code and details["department"] == "DEMO"
    assert set(details["fields"]) >= {"name", "birthdate"}
    assert phone.approve(link, code)["status"] == "approved"
    callback = resume(browser, gateway, waiting)
    tokens = dept.exchange(oauth, callback)
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    assert claims["acr"] == ACR_DEVICE and claims["amr"] == ["swk"]
    from identity.accounts.service import activity

    for db in session_scope(gateway.runtime.sessions):
        events = [(e.tag, e.details) for e in activity(db, account_id)]
    assert any(tag == "app.approved" and d.get("department") == "DEMO" for tag, d in events)


def test_the_qr_page_cannot_be_completed_from_another_browser(gateway, resident_with_phone):
    _, phone = resident_with_phone
    browser, _, _, link, code, waiting = start_in_browser(gateway, department(gateway))
    phone.approve(link, code)
    photographer = requests.get(gateway.base_url + waiting, allow_redirects=False, timeout=10)
    assert photographer.status_code == 404
    assert browser.get(gateway.base_url + waiting, allow_redirects=False, timeout=10).status_code == 303


def test_denial_and_expiry_end_in_access_denied_at_the_client(gateway, resident_with_phone):
    _, phone = resident_with_phone
    dept = department(gateway)
    browser, _, _, link, _, waiting = start_in_browser(gateway, dept)
    assert phone.deny(link)["status"] == "denied"
    callback = resume(browser, gateway, waiting)
    assert query_of(callback)["error"] == "access_denied"

    browser, _, _, link, code, waiting = start_in_browser(gateway, dept)
    with gateway.runtime.clock.shifted(minutes=3):
        with pytest.raises(Exception, match="expired"):
            phone.approve(link, code)
        callback = resume(browser, gateway, waiting)
    assert query_of(callback)["error"] == "access_denied"


def test_replayed_tampered_wrong_code_and_wrong_device_approvals_are_refused(
    gateway, resident_with_phone, tmp_path
):
    _, phone = resident_with_phone
    _, _, _, link, code, _ = start_in_browser(gateway, department(gateway))
    rid = request_id_from(link)
    http = httpx.Client(base_url=gateway.base_url)
    wrong = http.post(
        f"/app/requests/{rid}/decision",
        json={"decision": "approve", "signed": phone.signed("approve", rid=rid, code="XXXX")},
    )
    assert wrong.status_code == 409 and wrong.json()["title"] == "code mismatch"
    signed = phone.signed("approve", rid=rid, code=code)
    header, payload, signature = signed.split(".")
    tampered = f"{header}.{payload}.{signature[:-6]}AAAAAA"
    bad = http.post(f"/app/requests/{rid}/decision", json={"decision": "approve", "signed": tampered})
    assert bad.status_code == 401
    ok = http.post(f"/app/requests/{rid}/decision", json={"decision": "approve", "signed": signed})
    assert ok.status_code == 200
    replay = http.post(f"/app/requests/{rid}/decision", json={"decision": "approve", "signed": signed})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    stranger = PhoneApp(gateway.base_url, tmp_path / "unbound.json")
    with pytest.raises(Exception, match="not bound"):
        stranger.approve(link, code)


def test_backchannel_request_approved_in_the_app(gateway, resident_with_phone, tmp_path):
    account_id, phone = resident_with_phone
    dept = department(
        gateway, grant_types=("authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba")
    )
    assert dept.metadata["backchannel_authentication_endpoint"].endswith("/bc-authorize")
    # The department knows the resident from an earlier sign-in: its pairwise sub.
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth)
    tokens = dept.exchange(oauth, follow_to_callback(gateway.browser(account_id), url))
    sub = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["sub"]
    auth = (dept.client_id, dept.client_secret)
    started = requests.post(
        dept.metadata["backchannel_authentication_endpoint"],
        auth=auth,
        data={"scope": "openid profile", "login_hint": sub, "binding_message": "Counter 3, ref 42"},
        timeout=10,
    )
    assert started.status_code == 200, started.text
    auth_req_id = started.json()["auth_req_id"]
    token_url = dept.metadata["token_endpoint"]
    grant = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id}
    assert (
        requests.post(token_url, auth=auth, data=grant, timeout=10).json()["error"] == "authorization_pending"
    )
    [pending] = phone.pending()
    assert pending["binding_message"] == "Counter 3, ref 42"
    other_phone = _other_resident_phone(gateway, tmp_path)
    with pytest.raises(Exception, match="another resident"):
        other_phone.approve(pending["request_id"], pending["code"])
    phone.approve(pending["request_id"], pending["code"])
    issued = requests.post(token_url, auth=auth, data=grant, timeout=10)
    assert issued.status_code == 200, issued.text
    claims = (
        dept.verify_id_token(issued.json()["id_token"], issued.json()["access_token"], None)
        if False
        else _verify_without_nonce(dept, issued.json())
    )
    assert claims["sub"] == sub and claims["acr"] == ACR_DEVICE
    userinfo = requests.get(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
        timeout=10,
    )
    assert userinfo.json()["name"] == "CHAN Tai Man"
    again = requests.post(token_url, auth=auth, data=grant, timeout=10)
    assert again.json()["error"] == "invalid_grant"
    unknown = requests.post(
        dept.metadata["backchannel_authentication_endpoint"],
        auth=auth,
        data={"scope": "openid", "login_hint": "nobody"},
        timeout=10,
    )
    assert unknown.json()["error"] == "unknown_user_id"


def _verify_without_nonce(dept, tokens):
    from jose import jwt as jose_jwt

    return jose_jwt.decode(
        tokens["id_token"],
        dept.key_for(tokens["id_token"]),
        algorithms=["RS256", "ES256"],
        audience=dept.client_id,
        issuer=dept.issuer,
        access_token=tokens["access_token"],
    )


def _other_resident_phone(gateway, tmp_path):
    from identity.accounts.models import Account
    from identity.accounts.service import account_hkid
    from identity.residents.hkid import format_hkid
    from identity.security.keyring import build_keyring

    other = gateway.new_resident(PASSWORD)
    for db in session_scope(gateway.runtime.sessions):
        identifier = format_hkid(
            account_hkid(
                build_keyring(gateway.runtime.master_key, gateway.runtime.settings.field_key_generation),
                db.get(Account, other),
            )
        )
    phone = PhoneApp(gateway.base_url, tmp_path / f"other-{secrets.token_hex(3)}.json")
    phone.sign_in_and_bind(identifier, PASSWORD)
    return phone


def test_removing_a_device_kills_its_approvals_sessions_and_tokens(gateway, resident_with_phone):
    from identity.devices.service import remove_device

    account_id, phone = resident_with_phone
    dept = department(gateway)
    browser, oauth, _, link, code, waiting = start_in_browser(gateway, dept, scope="openid")
    phone.approve(link, code)
    tokens = dept.exchange(oauth, resume(browser, gateway, waiting))
    userinfo = dept.metadata["userinfo_endpoint"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(userinfo, headers=headers, timeout=10).status_code == 200
    for db in session_scope(gateway.runtime.sessions):
        assert remove_device(
            db, gateway.runtime.clock(), account_id=account_id, device_id=phone.state["device_id"], meta=None
        )
    assert requests.get(userinfo, headers=headers, timeout=10).status_code == 401
    url, _ = dept.start(dept.session("openid"), prompt="none")
    assert (
        query_of(browser.get(url, allow_redirects=False, timeout=10).headers["location"])["error"]
        == "login_required"
    )
    with pytest.raises(Exception, match="removed"):
        phone.pending()


def test_the_apps_level_after_a_password_sign_in_is_offered_on_a_page_not_looped(
    gateway, resident_with_phone
):
    """Issue 14: ``acr_values`` at the app's level after a password sign-in bounced between
    /authorize and /signin. Now the authorization request answers with a page offering the
    app (and the way back); approving in the app ends at the department with that level."""
    account_id, phone = resident_with_phone
    dept = department(gateway)
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth, acr_values=ACR_DEVICE)
    browser = gateway.browser(account_id)  # signed in with a password: the basic level
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'action="/authorize/unmet"' in page.text
    fields = form_fields(page.text.split('action="/signin/app/start"', 1)[1].split("</form>", 1)[0])
    started = browser.post(
        f"{gateway.base_url}/signin/app/start", data=fields, allow_redirects=False, timeout=10
    )
    waiting = started.headers["location"]
    shown = browser.get(gateway.base_url + waiting, timeout=10).text
    link = re.search(r'href="([^"]+)" id="open-app"', shown).group(1)
    code = re.search(r'id="short-code">([A-Z0-9]{4})<', shown).group(1)
    phone.approve(link, code)
    tokens = dept.exchange(oauth, resume(browser, gateway, waiting))
    assert dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["acr"] == ACR_DEVICE


def test_backchannel_refuses_a_resident_below_the_clients_identity_floor(gateway, resident_with_phone):
    account_id, phone = resident_with_phone
    known = department(gateway)  # the same department (sector): the same pairwise sub
    oauth = known.session("openid")
    url, nonce = known.start(oauth)
    tokens = known.exchange(oauth, follow_to_callback(gateway.browser(account_id), url))
    sub = known.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["sub"]
    floored = department(
        gateway,
        grant_types=("authorization_code", "urn:openid:params:grant-type:ciba"),
        min_identity_level="remote",
    )
    auth = (floored.client_id, floored.client_secret)
    started = requests.post(
        floored.metadata["backchannel_authentication_endpoint"],
        auth=auth,
        data={"scope": "openid", "login_hint": sub},
        timeout=10,
    )
    assert started.status_code == 200, started.text
    [pending] = phone.pending()
    phone.approve(pending["request_id"], pending["code"])
    grant = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started.json()["auth_req_id"]}
    refused = requests.post(floored.metadata["token_endpoint"], auth=auth, data=grant, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "access_denied"
    assert "id_token" not in refused.json()
