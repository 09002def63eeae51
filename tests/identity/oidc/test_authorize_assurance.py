"""Identity assurance at the authorization endpoint, over HTTP (FastAPI's TestClient):
``verified_claims`` under consent, the department's floors, and no sign-in loop."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from consent.port import LedgerConsentPort
from identity.accounts.models import Account
from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA, IAL_IN_PERSON, IAL_REMOTE
from identity.clients.service import Registration, register
from identity.devices import repository as devices_repository
from identity.sessions.service import SESSION_COOKIE, SessionPolicy, start_session
from tests.identity.accounts.factories import PASSWORD, Browser, create_resident, keyring_of
from tests.identity.oidc.factories import CHECKED, bind_device, proof, turn_on_totp

REDIRECT_URI = "https://dept.example/cb"
VERIFIED_NAME_AND_CARD = {
    "verification": {
        "trust_framework": None,
        "assurance_level": None,
        "evidence": [{"type": {"value": "document"}}],
    },
    "claims": {"name": None, "hkid_number": {"essential": True}},
}
MAX_HOPS = 6


class Department:
    """The department's side, played with the same TestClient: PKCE, the token endpoint,
    userinfo (the independent client is tests/e2e/test_identity_assurance.py's)."""

    def __init__(self, db, runtime, **overrides: Any) -> None:
        fields: dict[str, Any] = dict(
            name="Immigration e-Services",
            name_zh="入境事務處電子服務",
            department="IMMD",
            redirect_uris=[REDIRECT_URI],
            allowed_scopes=("openid", "profile", "hkid"),
            purpose="To check your application",
        )
        fields.update(overrides)
        client, secret = register(db, runtime.master_key, Registration(**fields), runtime.clock())
        self.client_id, self.secret = client.client_id, secret
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(8)

    def authorize_url(self, scope: str = "openid", claims: dict[str, Any] | None = None, **extra: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=")
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": self.state,
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            **({"claims": json.dumps(claims)} if claims is not None else {}),
            **extra,
        }
        return "/authorize?" + urlencode(params)

    def tokens(self, http, callback: str) -> dict[str, Any]:
        code = query_of(callback)["code"]
        response = http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": self.verifier,
            },
            auth=(self.client_id, self.secret),
        )
        assert response.status_code == 200, response.text
        return response.json()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload only: the signature is checked against the JWKS in the e2e journey."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


ISSUER = "https://testserver"


@pytest.fixture(autouse=True)
def https_issuer(runtime):
    runtime.settings.issuer = ISSUER  # Authlib refuses OAuth over plain http off loopback


def https_browser(runtime) -> Browser:
    browser = Browser(runtime)
    browser.client.base_url = ISSUER
    return browser


def signed_in(runtime, db, account: Account, acr: str = ACR_BASIC) -> Browser:
    browser = https_browser(runtime)
    token, _ = start_session(
        db,
        SessionPolicy.from_settings(runtime.settings),
        runtime.clock(),
        account_id=account.id,
        acr=acr,
        amr=["pwd"] if acr == ACR_BASIC else ["pwd", "otp"],
        source=None,
        user_agent="tests",
    )
    db.flush()
    browser.client.cookies.set(SESSION_COOKIE, token)
    return browser


def approve(browser: Browser, consent_page) -> str:
    """Agree on the consent page; returns where the browser is sent (the department)."""
    assert consent_page.status_code == 200 and 'name="decision"' in consent_page.text, consent_page.text[:300]
    browser.token = hidden_fields(consent_page.text)["csrf_token"]
    fields = {k: v for k, v in hidden_fields(consent_page.text).items() if k != "csrf_token"}
    response = browser.post("/authorize/consent", {**fields, "decision": "approve"}, follow_redirects=False)
    assert response.status_code == 302, response.text[:300]
    return response.headers["location"]


def resident(db, runtime, *, level: str | None = IAL_IN_PERSON) -> Account:
    account, _ = create_resident(db, runtime)
    if level is not None:
        proof(db, keyring_of(runtime), account, runtime.clock(), level=level)
    return account


# -- verified_claims --------------------------------------------------------------------------


def test_a_proofed_resident_releases_verified_claims_in_the_id_token_and_userinfo(db, runtime):
    account = resident(db, runtime)
    dept = Department(db, runtime)
    browser = signed_in(runtime, db, account)
    claims = {
        "id_token": {"verified_claims": VERIFIED_NAME_AND_CARD},
        "userinfo": {"verified_claims": VERIFIED_NAME_AND_CARD},
    }
    chinese = browser.get(dept.authorize_url(claims=claims, ui_locales="zh-HK"))
    assert "已與你的身份證核對的資料" in chinese.text
    page = browser.get(dept.authorize_url(claims=claims))
    assert 'id="verified-fields"' in page.text and "checked against your Hong Kong identity card" in page.text
    callback = approve(browser, page)
    assert callback.startswith(REDIRECT_URI) and query_of(callback)["state"] == dept.state
    tokens = dept.tokens(browser.client, callback)

    expected = {
        "verification": {
            "trust_framework": "hk_egate",
            "assurance_level": IAL_IN_PERSON,
            "evidence": [{"type": "document"}],
        },
        "claims": {"name": CHECKED["name"], "hkid_number": CHECKED["hkid_number"]},
    }
    id_token = unverified_claims(tokens["id_token"])
    assert id_token["verified_claims"] == expected
    assert "name" not in id_token  # asked only as verified: the profile's name is not released
    userinfo = browser.client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert userinfo["verified_claims"] == expected and "name" not in userinfo

    entries = LedgerConsentPort().list_disclosures(db, account.id)
    released = {entry.channel: set(entry.fields) for entry in entries}
    assert released["id_token"] == {"sub", "verified_claims.name", "verified_claims.hkid_number"}
    assert released["userinfo"] == {"sub", "verified_claims.name", "verified_claims.hkid_number"}
    record = browser.get("/account/disclosures")
    assert "English name (checked against your identity card)" in record.text


def test_a_self_asserted_resident_never_gets_verified_claims(db, runtime):
    account = resident(db, runtime, level=None)
    dept = Department(db, runtime)
    browser = signed_in(runtime, db, account)
    essential = {
        "verification": {"trust_framework": None},
        "claims": {"name": {"essential": True}, "birthdate": {"essential": True}},
    }
    claims = {
        "id_token": {"verified_claims": essential, "birthdate": None},
        "userinfo": {"verified_claims": essential},
    }
    page = browser.get(dept.authorize_url(claims=claims))
    assert 'id="verified-fields"' not in page.text  # never asked to release what they lack
    tokens = dept.tokens(browser.client, approve(browser, page))
    id_token = unverified_claims(tokens["id_token"])
    assert "verified_claims" not in id_token
    assert id_token["birthdate"]  # asked as an ordinary claim: the profile's value, as such
    userinfo = browser.client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert "verified_claims" not in userinfo
    fields = {f for entry in LedgerConsentPort().list_disclosures(db, account.id) for f in entry.fields}
    assert not any(f.startswith("verified_claims") for f in fields)


def test_unmet_verification_constraints_omit_verified_claims_without_an_error(db, runtime):
    account = resident(db, runtime, level=IAL_REMOTE)
    dept = Department(db, runtime)
    browser = signed_in(runtime, db, account)
    in_person_only = {
        "verification": {
            "trust_framework": {"value": "hk_egate"},
            "assurance_level": {"value": IAL_IN_PERSON},
        },
        "claims": {"name": None},
    }
    response = browser.get(
        dept.authorize_url(claims={"id_token": {"verified_claims": in_person_only}}), follow_redirects=False
    )
    assert response.status_code == 302  # nothing to consent to: straight back with a code
    tokens = dept.tokens(browser.client, response.headers["location"])
    assert "verified_claims" not in unverified_claims(tokens["id_token"])


def test_withdrawing_consent_stops_verified_claims_at_userinfo(db, runtime):
    account = resident(db, runtime)
    dept = Department(db, runtime)
    browser = signed_in(runtime, db, account)
    page = browser.get(dept.authorize_url(claims={"userinfo": {"verified_claims": VERIFIED_NAME_AND_CARD}}))
    tokens = dept.tokens(browser.client, approve(browser, page))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert "verified_claims" in browser.client.get("/userinfo", headers=bearer).json()
    port = LedgerConsentPort()
    for grant in port.list_grants(db, account.id, runtime.clock()):
        port.revoke_grant(db, account.id, grant.grant_id, runtime.clock())
    db.flush()
    assert "verified_claims" not in browser.client.get("/userinfo", headers=bearer).json()


@pytest.mark.parametrize(
    "verified_claims",
    [
        {"claims": {"name": None}},
        {"verification": {"trust_framework": None}, "claims": {}},
        {
            "verification": {"trust_framework": None, "evidence": {"type": "document"}},
            "claims": {"name": None},
        },
    ],
    ids=["no verification", "no claims", "evidence not an array"],
)
def test_a_malformed_verified_claims_request_is_invalid_request(db, runtime, verified_claims):
    account = resident(db, runtime)
    dept = Department(db, runtime)
    browser = signed_in(runtime, db, account)
    url = dept.authorize_url(claims={"userinfo": {"verified_claims": verified_claims}})
    response = browser.get(url, follow_redirects=False)
    assert response.status_code == 302
    answer = query_of(response.headers["location"])
    assert answer["error"] == "invalid_request" and answer["state"] == dept.state
    assert "verified_claims" in answer["error_description"]


def test_discovery_advertises_identity_assurance(runtime):
    browser = https_browser(runtime)
    meta = browser.client.get("/.well-known/openid-configuration").json()
    assert meta["verified_claims_supported"] is True and meta["claims_parameter_supported"] is True
    assert meta["trust_frameworks_supported"] == ["hk_egate"]
    assert meta["evidence_supported"] == ["document"] and meta["documents_supported"] == ["idcard"]
    assert meta["documents_check_methods_supported"] == ["vpip", "vri"]
    assert set(meta["claims_in_verified_claims_supported"]) == set(CHECKED)


# -- floors and the acr loop ---------------------------------------------------------------


def follow(browser: Browser, url: str) -> tuple[Any, list[str]]:
    """Follow the browser's redirects from ``url`` until a page, or the department; the
    path taken. More than MAX_HOPS is a loop."""
    path = [url]
    response = browser.get(url, follow_redirects=False)
    while response.status_code in (302, 303):
        location = response.headers["location"]
        path.append(location)
        if location.startswith(REDIRECT_URI):
            return response, path
        assert len(path) <= MAX_HOPS, f"a loop: {path}"
        response = browser.get(location, follow_redirects=False)
    return response, path


def return_to_department(browser: Browser, page) -> dict[str, str]:
    """The explanation page's button; returns the department's callback parameters."""
    browser.token = hidden_fields(page.text)["csrf_token"]
    request = hidden_fields(page.text)["authorization_request"]
    response = browser.post("/authorize/unmet", {"authorization_request": request}, follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"].startswith(REDIRECT_URI)
    return query_of(response.headers["location"])


def test_below_the_identity_floor_the_resident_is_told_how_to_get_proofed(db, runtime):
    account = resident(db, runtime, level=None)
    dept = Department(db, runtime, min_identity_level=IAL_REMOTE)
    browser = signed_in(runtime, db, account)
    page, path = follow(browser, dept.authorize_url())
    assert page.status_code == 200 and len(path) == 1
    assert "Your identity needs to be verified" in page.text and 'href="/account/identity"' in page.text
    assert "registration counter" in page.text
    chinese = browser.get(dept.authorize_url(ui_locales="zh-HK"))
    assert (
        "你的身分需要核實" in chinese.text
        and "入境事務處電子服務" in chinese.text
        and "登記櫃位" in chinese.text
    )
    answer = return_to_department(browser, page)
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == dept.state and answer["iss"] == runtime.settings.issuer
    silent = browser.get(dept.authorize_url(prompt="none"), follow_redirects=False)
    assert query_of(silent.headers["location"])["error"] == "unmet_authentication_requirements"


def test_an_in_person_floor_offers_only_the_counter_and_a_proofed_resident_passes(db, runtime):
    dept = Department(db, runtime, min_identity_level=IAL_IN_PERSON)
    remote = signed_in(runtime, db, resident(db, runtime, level=IAL_REMOTE))
    page = remote.get(dept.authorize_url())
    assert "registration counter" in page.text and 'href="/account/identity"' not in page.text
    in_person = signed_in(runtime, db, resident(db, runtime, level=IAL_IN_PERSON))
    response, _ = follow(in_person, dept.authorize_url())
    assert "code" in query_of(response.headers["location"])


def test_a_tampered_return_still_goes_only_to_the_registered_redirect_uri(db, runtime):
    dept = Department(db, runtime, min_identity_level=IAL_REMOTE)
    browser = signed_in(runtime, db, resident(db, runtime, level=None))
    page = browser.get(dept.authorize_url())
    browser.token = hidden_fields(page.text)["csrf_token"]
    forged = dept.authorize_url(redirect_uri="https://evil.example/cb").split("?", 1)[1]
    response = browser.post("/authorize/unmet", {"authorization_request": forged}, follow_redirects=False)
    assert response.status_code == 400 and "evil.example" not in response.headers.get("location", "")
    refused = browser.client.post(
        "/authorize/unmet", data={"authorization_request": forged}, follow_redirects=False
    )
    assert refused.status_code in (400, 403)  # no CSRF token


LOOP_CASES = {
    # acr asked, or the client's floor; what the resident has; where following ends.
    "mfa asked, no second factor": ({"acr_values": ACR_MFA}, None, "page"),
    "mfa floor, no second factor": ({}, "floor-mfa", "page"),
    "device asked after a password sign-in, no device": ({"acr_values": ACR_DEVICE}, None, "page"),
    "mfa asked, a second factor": ({"acr_values": ACR_MFA}, "totp", "second-factor"),
    "device asked, a bound device": ({"acr_values": ACR_DEVICE}, "device", "app-page"),
    "essential acr claim, a second factor": (
        {"claims": json.dumps({"id_token": {"acr": {"essential": True, "value": ACR_MFA}}})},
        "totp",
        "second-factor",
    ),
}


@pytest.mark.parametrize(("extra", "has", "ends"), list(LOOP_CASES.values()), ids=list(LOOP_CASES))
def test_no_sign_in_loop(db, runtime, extra, has, ends):
    account = resident(db, runtime, level=None)
    keyring = keyring_of(runtime)
    if has == "totp":
        turn_on_totp(db, keyring, account, runtime.clock())
    if has == "device":
        bind_device(db, account, runtime.clock())
    dept = Department(db, runtime, min_acr=ACR_MFA if has == "floor-mfa" else None)
    browser = signed_in(runtime, db, account)
    extra = dict(extra)  # the case table is shared by both backends' runs
    claims = extra.pop("claims", None)
    url = dept.authorize_url(**extra)
    if claims:
        url += "&" + urlencode({"claims": claims})
    response, path = follow(browser, url)
    assert len(path) <= 3, path
    assert response.status_code == 200
    if ends == "page":
        assert 'action="/authorize/unmet"' in response.text and 'id="how-to-set-up"' in response.text
        # A code never reaches the app's level: two-step verification is offered for mfa only.
        offers_totp = 'href="/account/security/totp"' in response.text
        assert offers_totp == (extra.get("acr_values") != ACR_DEVICE)
        assert 'href="/account/devices"' in response.text
        chinese = browser.get(url + "&ui_locales=zh-HK")
        assert "此服務需要較高保安級別的登入" in chinese.text and "你剛才以密碼登入" in chinese.text
        answer = return_to_department(browser, response)
        assert answer["error"] == "unmet_authentication_requirements" and answer["state"] == dept.state
    elif ends == "second-factor":
        assert path[-1].startswith("/signin/second-factor") and 'name="code"' in response.text
    else:
        assert 'action="/signin/app/start"' in response.text and 'action="/authorize/unmet"' in response.text


def test_after_the_step_up_the_code_carries_the_higher_acr(db, runtime):
    account = resident(db, runtime, level=None)
    totp = turn_on_totp(db, keyring_of(runtime), account, runtime.clock())
    dept = Department(db, runtime, min_acr=ACR_MFA)
    browser = signed_in(runtime, db, account)
    page, _ = follow(browser, dept.authorize_url())
    browser.token = hidden_fields(page.text)["csrf_token"]
    later = runtime.clock().timestamp() + 30  # the set-up code is spent
    done = browser.post("/signin/second-factor", {"code": totp.at(later)}, follow_redirects=False)
    assert done.status_code == 303
    response, path = follow(browser, done.headers["location"])
    assert len(path) == 2, path
    tokens = dept.tokens(browser.client, response.headers["location"])
    assert unverified_claims(tokens["id_token"])["acr"] == ACR_MFA


def test_a_demanded_sign_in_then_the_app_ends_at_the_department(db, runtime):
    """prompt=login with the app's level: the password sign-in satisfies the demand, the app
    raises the level, and the browser comes back to the same request (its resume handle
    kept), which now yields a code: no second demand, no loop."""
    account, form = create_resident(db, runtime)
    device = bind_device(db, account, runtime.clock())
    dept = Department(db, runtime)
    browser = https_browser(runtime)
    page, path = follow(browser, dept.authorize_url(prompt="login", acr_values=ACR_DEVICE))
    assert path[-1].startswith("/signin?") and 'id="app-required"' in page.text
    signed = browser.post(
        path[-1], {"identifier": form["email"], "password": PASSWORD}, follow_redirects=False
    )
    app_page, more = follow(browser, signed.headers["location"])
    assert len(more) == 1 and 'action="/signin/app/start"' in app_page.text
    next_path = hidden_fields(app_page.text)["next"]
    assert "egate_resume=" in next_path
    browser.token = hidden_fields(app_page.text)["csrf_token"]
    started = browser.post("/signin/app/start", {"next": next_path}, follow_redirects=False)
    request_id = query_of(started.headers["location"])["rid"]
    signin = devices_repository.get_signin(db, request_id)
    signin.status, signin.account_id, signin.device_id = "approved", account.id, device.id
    signin.decided_at = runtime.clock()
    db.flush()
    response, final = follow(browser, started.headers["location"])
    assert len(final) == 3, final  # the waiting page, the request, the department
    tokens = dept.tokens(browser.client, response.headers["location"])
    assert unverified_claims(tokens["id_token"])["acr"] == ACR_DEVICE


# -- the consent page's actions ---------------------------------------------------------------


def test_agreeing_is_the_consent_pages_primary_action_and_not_sharing_a_secondary_one(db, runtime):
    account = resident(db, runtime, level=None)
    dept = Department(db, runtime)
    page = signed_in(runtime, db, account).get(dept.authorize_url(scope="openid profile"))
    buttons = re.findall(r'<button type="submit" name="decision" value="(\w+)" class="([^"]+)">', page.text)
    assert buttons == [("approve", "button"), ("deny", "button secondary")]


@pytest.mark.parametrize(
    ("lang", "name", "name_zh", "said_once"),
    [
        ("en", "e-Gateway forms", "電子通道表格", "e-Gateway forms"),
        ("zh-HK", "e-Gateway forms", "電子通道表格", "電子通道表格"),
    ],
)
def test_the_consent_page_names_the_department_only_when_it_adds_something(
    db, runtime, lang, name, name_zh, said_once
):
    account = resident(db, runtime)
    same = Department(db, runtime, name=name, name_zh=name_zh, department="FORMSHUB")
    other = Department(db, runtime)  # Immigration e-Services, of the Immigration Department
    browser = signed_in(runtime, db, account)
    browser.client.cookies.set("lang", lang)
    lead = re.compile(r'<p class="lead">(.*?)</p>', re.S)
    page = browser.get(same.authorize_url(scope="openid profile"))
    assert page.status_code == 200
    assert lead.search(page.text).group(1).count(said_once) == 1  # not "電子通道表格 (電子通道表格)"
    department = "Immigration Department" if lang == "en" else "入境事務處"
    assert department in lead.search(browser.get(other.authorize_url(scope="openid profile")).text).group(1)
