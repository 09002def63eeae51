"""The authorization code flow as a department integrates it, over real HTTP."""

from __future__ import annotations

import csv
import io

import requests
from jose import jwt as jose_jwt

from identity.assurance import ACR_BASIC, ACR_MFA
from tests.e2e.oidc_client import Department, follow_to_callback, query_of


def department(gateway, **overrides) -> Department:
    client_id, secret = gateway.register_client(**overrides)
    return Department(gateway.base_url, client_id, secret)


def sign_in_and_get_tokens(gateway, dept, account_id, scope="openid profile email", **extra):
    browser = gateway.browser(account_id)
    oauth = dept.session(scope)
    url, nonce = dept.start(oauth, **extra)
    callback = follow_to_callback(browser, url)
    assert callback.startswith(dept.redirect_uri)
    return dept.exchange(oauth, callback), nonce, browser


def test_discovery_lists_the_issuer_and_only_what_is_supported(gateway):
    response = requests.get(
        f"{gateway.base_url}/.well-known/openid-configuration",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
        timeout=10,
    )
    meta = response.json()
    assert meta["issuer"] == gateway.runtime.settings.issuer
    assert meta["authorization_endpoint"] == f"{gateway.runtime.settings.issuer}/authorize"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    keys = requests.get(meta["jwks_uri"], timeout=10).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES256"}
    assert all(k.get("kid") and "d" not in k for k in keys)


def test_full_code_flow_with_consent_id_token_and_userinfo(gateway):
    dept = department(gateway)
    account_id = gateway.new_resident()
    tokens, nonce, _ = sign_in_and_get_tokens(gateway, dept, account_id)
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    for name in ("iss", "sub", "aud", "exp", "iat", "auth_time", "acr", "amr", "azp", "at_hash", "sid"):
        assert name in claims, name
    assert claims["acr"] == ACR_BASIC and claims["amr"] == ["pwd"]
    assert claims["sub"] != account_id  # pairwise by default
    assert jose_jwt.get_unverified_header(tokens["id_token"])["alg"] == "RS256"
    access = dept.verify_access_token(tokens["access_token"])
    assert access["client_id"] == dept.client_id and access["sub"] == claims["sub"]

    userinfo = requests.get(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["name"] == "CHAN Tai Man" and userinfo["name#zh-HK"] == "陳大文"
    assert userinfo["email"].endswith("@example.hk") and userinfo["email_verified"] is True
    assert "hkid_number" not in userinfo and "phone_number" not in userinfo  # not in scope

    posted = requests.post(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert posted.json() == userinfo


def test_remembered_consent_skips_the_page_and_prompt_none_works(gateway):
    dept = department(gateway)
    account_id = gateway.new_resident()
    sign_in_and_get_tokens(gateway, dept, account_id)
    browser = gateway.browser(account_id)
    oauth = dept.session("openid profile email")
    url, _ = dept.start(oauth, prompt="none")
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert "code" in query_of(response.headers["location"])


def test_each_department_gets_its_own_subject(gateway):
    account_id = gateway.new_resident()
    first = department(gateway, department="TD")
    second = department(gateway, department="FEHD")
    public = department(gateway, department="OGCIO", subject_type="public")
    subjects = []
    for dept in (first, second, public):
        tokens, nonce, _ = sign_in_and_get_tokens(gateway, dept, account_id, scope="openid")
        subjects.append(dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["sub"])
    assert subjects[0] != subjects[1]
    assert subjects[2] == account_id


def test_es256_id_tokens_when_registered(gateway):
    dept = department(gateway, id_token_signed_response_alg="ES256")
    tokens, nonce, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    assert jose_jwt.get_unverified_header(tokens["id_token"])["alg"] == "ES256"
    dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)


def test_claims_parameter_puts_consented_claims_in_the_id_token(gateway):
    dept = department(gateway)
    tokens, nonce, _ = sign_in_and_get_tokens(
        gateway,
        dept,
        gateway.new_resident(),
        scope="openid",
        claims='{"id_token": {"birthdate": {"essential": true}}}',
    )
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    assert claims["birthdate"] == "1980-05-17"


def test_form_post_response_mode(gateway):
    dept = department(gateway)
    browser = gateway.browser(gateway.new_resident())
    oauth = dept.session("openid")
    url, _ = dept.start(oauth, response_mode="form_post")
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 200
    assert f'action="{dept.redirect_uri}"' in response.text
    assert 'name="code"' in response.text and 'name="state"' in response.text


def test_denied_consent_returns_access_denied(gateway):
    dept = department(gateway)
    browser = gateway.browser(gateway.new_resident())
    oauth = dept.session("openid email")
    url, _ = dept.start(oauth)
    callback = follow_to_callback(browser, url, approve=False)
    assert query_of(callback)["error"] == "access_denied"


def test_step_up_and_silent_requests(gateway):
    dept = department(gateway)
    account_id = gateway.new_resident()
    oauth = dept.session("openid")
    # No second factor and no app: nothing in a sign-in reaches the level, so the resident
    # is told how to set one up (no round trip to /signin; tests/identity/oidc/test_authorize_assurance.py).
    url, _ = dept.start(oauth, acr_values=ACR_MFA)
    response = gateway.browser(account_id).get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 200 and 'action="/authorize/unmet"' in response.text

    url, _ = dept.start(oauth, acr_values=ACR_MFA, prompt="none")
    response = gateway.browser(account_id).get(url, allow_redirects=False, timeout=10)
    assert query_of(response.headers["location"])["error"] == "unmet_authentication_requirements"

    url, _ = dept.start(oauth, prompt="none")
    response = requests.get(url, allow_redirects=False, timeout=10)  # no session at all
    assert query_of(response.headers["location"])["error"] == "login_required"

    url, _ = dept.start(dept.session("openid email"), prompt="none")
    response = gateway.browser(account_id).get(url, allow_redirects=False, timeout=10)
    assert query_of(response.headers["location"])["error"] == "consent_required"

    mfa_browser = gateway.browser(account_id, acr=ACR_MFA, amr=("pwd", "otp", "mfa"))
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth, acr_values=ACR_MFA)
    tokens = dept.exchange(oauth, follow_to_callback(mfa_browser, url))
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    assert claims["acr"] == ACR_MFA and "otp" in claims["amr"]


def test_prompt_login_and_max_age_zero_send_the_resident_to_sign_in(gateway):
    dept = department(gateway)
    browser = gateway.browser(gateway.new_resident())
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        url, _ = dept.start(dept.session("openid"), **extra)
        response = browser.get(url, allow_redirects=False, timeout=10)
        assert response.status_code == 303
        location = query_of(response.headers["location"])
        assert location["prompt"] == "login" and location["next"].startswith("/authorize?")


def test_logout_checks_the_registered_post_logout_uri(gateway):
    dept = department(gateway)
    tokens, _, browser = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    logout = dept.metadata["end_session_endpoint"]
    bad = browser.get(
        logout,
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert bad.status_code == 400 and "location" not in bad.headers
    good = browser.get(
        logout,
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://dept.example.gov.hk/signed-out",
            "state": "s1",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "https://dept.example.gov.hk/signed-out?state=s1"
    url, _ = dept.start(dept.session("openid"), prompt="none")
    after = browser.get(url, allow_redirects=False, timeout=10)
    assert query_of(after.headers["location"])["error"] == "login_required"


def test_officer_roles_reach_first_party_services_only(gateway):
    import secrets

    from identity.accounts.service import create_staff
    from identity.security.hashing import hasher_for
    from identity.security.keyring import build_keyring
    from kit.db import session_scope

    runtime = gateway.runtime
    for db in session_scope(runtime.sessions):
        officer = create_staff(
            db,
            build_keyring(runtime.master_key, runtime.settings.field_key_generation),
            hasher_for(runtime.settings),
            username=f"officer-{secrets.token_hex(3)}",
            password="a long staff passphrase",
            department="TD",
            roles=["officer"],
            name="WONG Officer",
            now=runtime.clock(),
        )
        officer_id = officer.id
    first_party = department(gateway, first_party=True, subject_type="public")
    outside = department(gateway)
    for dept, expected in ((first_party, {"roles": ["officer"], "department": "TD"}), (outside, None)):
        tokens, nonce, _ = sign_in_and_get_tokens(gateway, dept, officer_id, scope="openid")
        claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
        if expected:
            assert {k: claims[k] for k in expected} == expected
        else:
            assert "roles" not in claims and "department" not in claims


def test_resident_sees_disclosures_and_withdrawing_consent_stops_userinfo(gateway):
    dept = department(gateway, department="HD")
    account_id = gateway.new_resident()
    tokens, _, browser = sign_in_and_get_tokens(gateway, dept, account_id, scope="openid profile")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert "name" in requests.get(dept.metadata["userinfo_endpoint"], headers=headers, timeout=10).json()

    record = browser.get(f"{gateway.base_url}/account/disclosures", timeout=10)
    assert record.status_code == 200 and "Housing Department" in record.text and "English name" in record.text
    exported = browser.get(
        f"{gateway.base_url}/account/disclosures?format=json&department=hd", timeout=10
    ).json()
    assert {e["channel"] for e in exported} == {"id_token", "userinfo"}
    assert all(e["recipient_department"] == "HD" for e in exported)
    assert not any("CHAN" in str(e) for e in exported)  # names of fields, never their values
    csv_export = browser.get(f"{gateway.base_url}/account/disclosures?format=csv", timeout=10).text
    assert csv_export.splitlines()[0].startswith("recorded_at,recipient_department")
    nothing = browser.get(f"{gateway.base_url}/account/disclosures?format=json&department=NOPE", timeout=10)
    assert nothing.json() == []

    page = browser.get(f"{gateway.base_url}/account/consents", timeout=10)
    # a name, not a code; a state that says what it is (a consent not remembered is one-time)
    assert "<td>Housing Department</td>" in page.text and "Ongoing until" in page.text
    assert ">Active<" not in page.text
    form = page.text.split('action="/account/consents/', 1)[1]
    grant_id = form.split("/revoke", 1)[0]
    from tests.e2e.conftest import form_fields

    revoked = browser.post(
        f"{gateway.base_url}/account/consents/{grant_id}/revoke",
        data=form_fields(form),
        allow_redirects=False,
        timeout=10,
    )
    assert revoked.status_code == 303
    after = requests.get(dept.metadata["userinfo_endpoint"], headers=headers, timeout=10).json()
    assert after == {"sub": after["sub"]}
    assert "Withdrawn" in browser.get(f"{gateway.base_url}/account/consents", timeout=10).text


def test_the_disclosure_export_defuses_spreadsheet_formulas(gateway):
    """A department's purpose is shown to the resident; in a CSV it must stay text."""
    formula = '=HYPERLINK("https://evil.example/","open")'
    dept = department(gateway, department="HD", purpose=formula)
    account_id = gateway.new_resident()
    _, _, browser = sign_in_and_get_tokens(gateway, dept, account_id, scope="openid profile")
    rows = list(
        csv.DictReader(io.StringIO(browser.get(f"{gateway.base_url}/account/disclosures?format=csv").text))
    )
    assert rows and all(row["purpose"] == "'" + formula for row in rows)
