"""Token endpoint, refresh rotation, client authentication, revocation, introspection,
key rotation and the error cases a department can run into."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk as jose_jwk
from jose import jwt as jose_jwt
from requests_oauthlib import OAuth2Session

from tests.e2e.oidc_client import Department, follow_to_callback, query_of
from tests.e2e.test_oidc_code_flow import department, sign_in_and_get_tokens


def post_token(dept: Department, data: dict, auth=True) -> requests.Response:
    return requests.post(
        dept.metadata["token_endpoint"],
        data=data,
        auth=(dept.client_id, dept.client_secret) if auth else None,
        timeout=10,
    )


def userinfo_status(dept: Department, access_token: str) -> int:
    return requests.get(
        dept.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    ).status_code


def code_for(gateway, dept, scope="openid", **extra):
    oauth = dept.session(scope)
    url, _ = dept.start(oauth, **extra)
    callback = follow_to_callback(gateway.browser(gateway.new_resident()), url)
    return oauth, callback


def test_a_code_works_once_and_its_replay_revokes_what_it_gave(gateway):
    dept = department(gateway)
    oauth, callback = code_for(gateway, dept)
    tokens = dept.exchange(oauth, callback)
    assert userinfo_status(dept, tokens["access_token"]) == 200
    replay = post_token(
        dept,
        {
            "grant_type": "authorization_code",
            "code": query_of(callback)["code"],
            "redirect_uri": dept.redirect_uri,
            "code_verifier": oauth._code_verifier,
        },
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert userinfo_status(dept, tokens["access_token"]) == 401
    refresh = post_token(dept, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"


def test_pkce_is_required_with_s256_and_checked(gateway):
    dept = department(gateway)
    browser = gateway.browser(gateway.new_resident())
    base = {
        "response_type": "code",
        "client_id": dept.client_id,
        "redirect_uri": dept.redirect_uri,
        "scope": "openid",
        "state": "st",
    }
    for extra in ({}, {"code_challenge": "a" * 43, "code_challenge_method": "plain"}):
        response = browser.get(
            dept.metadata["authorization_endpoint"],
            params={**base, **extra},
            allow_redirects=False,
            timeout=10,
        )
        params = query_of(response.headers["location"])
        assert params["error"] == "invalid_request" and params["state"] == "st"
    oauth, callback = code_for(gateway, dept)
    wrong = post_token(
        dept,
        {
            "grant_type": "authorization_code",
            "code": query_of(callback)["code"],
            "redirect_uri": dept.redirect_uri,
            "code_verifier": "x" * 50,
        },
    )
    assert wrong.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri", [None, "https://evil.example/callback", "https://dept.example.gov.hk/callback/extra"]
)
def test_unregistered_or_missing_redirect_uri_never_redirects(gateway, redirect_uri):
    dept = department(gateway)
    params = {
        "response_type": "code",
        "client_id": dept.client_id,
        "scope": "openid",
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    response = gateway.browser(gateway.new_resident()).get(
        dept.metadata["authorization_endpoint"], params=params, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert "text/html" in response.headers["content-type"]


def test_unknown_client_and_bad_parameters_are_error_pages_or_redirects(gateway):
    dept = department(gateway)
    meta = dept.metadata
    unknown = requests.get(
        meta["authorization_endpoint"],
        params={"client_id": "nobody", "response_type": "code"},
        allow_redirects=False,
        timeout=10,
    )
    assert unknown.status_code == 400 and "location" not in unknown.headers
    oauth = dept.session("openid")
    url, _ = dept.start(oauth, response_mode="fragment")
    response = gateway.browser(gateway.new_resident()).get(url, allow_redirects=False, timeout=10)
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    huge = requests.get(
        meta["authorization_endpoint"],
        params={"client_id": dept.client_id, "state": "x" * 5000},
        allow_redirects=False,
        timeout=10,
    )
    assert huge.status_code == 400 and "location" not in huge.headers


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(gateway):
    dept = department(gateway)
    oauth, callback = code_for(gateway, dept)
    first = dept.exchange(oauth, callback)
    second = post_token(dept, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    # Within the grace period a concurrent refresh with the same token still succeeds.
    concurrent = post_token(dept, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert concurrent.status_code == 200
    grace = gateway.runtime.settings.refresh_reuse_grace_seconds
    with gateway.runtime.clock.shifted(seconds=grace + 5):
        stolen = post_token(dept, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
        after = post_token(dept, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
        assert after.json()["error"] == "invalid_grant"
        assert userinfo_status(dept, second["access_token"]) == 401


def test_client_credentials_with_secret_post_and_introspection(gateway):
    dept = department(
        gateway,
        token_endpoint_auth_method="client_secret_post",
        allowed_scopes=("openid", "ledger:department"),
    )
    response = requests.post(
        dept.metadata["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "scope": "ledger:department",
            "client_id": dept.client_id,
            "client_secret": dept.client_secret,
        },
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 200 and "refresh_token" not in body
    claims = dept.verify_access_token(body["access_token"])
    assert claims["sub"] == dept.client_id and claims["department"] == "DEMO"
    assert claims["scope"] == "ledger:department"
    introspected = requests.post(
        dept.metadata["introspection_endpoint"],
        data={
            "token": body["access_token"],
            "client_id": dept.client_id,
            "client_secret": dept.client_secret,
        },
        timeout=10,
    ).json()
    assert introspected["active"] is True and introspected["client_id"] == dept.client_id
    # A client with a secret may send it either way (issue 15): Basic works too.
    basic = requests.post(
        dept.metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "ledger:department"},
        auth=(dept.client_id, dept.client_secret),
        timeout=10,
    )
    assert basic.status_code == 200, basic.text


def test_invalid_client_unsupported_grant_and_invalid_scope(gateway):
    dept = department(gateway)
    wrong = requests.post(
        dept.metadata["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(dept.client_id, "not-the-secret"),
        timeout=10,
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in wrong.headers
    unsupported = post_token(dept, {"grant_type": "password", "username": "x", "password": "y"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    scope = post_token(dept, {"grant_type": "client_credentials", "scope": "root-access"})
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    no_grant = department(gateway, grant_types=("authorization_code",))
    refused = post_token(no_grant, {"grant_type": "client_credentials"})
    assert refused.json()["error"] == "unauthorized_client"


def _ec_jwks():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = jose_jwk.construct(pem, "ES256").public_key().to_dict()
    public.update({"kid": "dept-key-1", "use": "sig", "alg": "ES256"})
    return pem, {"keys": [public]}


def _assertion(pem, client_id, audience, **overrides):
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
    }
    claims.update(overrides)
    return jose_jwt.encode(claims, pem, algorithm="ES256", headers={"kid": "dept-key-1"})


def test_private_key_jwt_client_authentication(gateway):
    pem, jwks = _ec_jwks()
    dept = department(
        gateway,
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks,
        allowed_scopes=("openid", "ledger:department"),
    )
    token_url = dept.metadata["token_endpoint"]
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assertion = _assertion(pem, dept.client_id, token_url)
    ok = requests.post(token_url, data={**data, "client_assertion": assertion}, timeout=10)
    assert ok.status_code == 200, ok.text
    replayed = requests.post(token_url, data={**data, "client_assertion": assertion}, timeout=10)
    # Refusals of an assertion are 400 (no HTTP Basic, RFC 6749 §5.2).
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_client"
    expired = _assertion(
        pem, dept.client_id, token_url, iat=int(time.time()) - 600, exp=int(time.time()) - 300
    )
    assert requests.post(token_url, data={**data, "client_assertion": expired}, timeout=10).status_code == 400
    future = _assertion(
        pem, dept.client_id, token_url, iat=int(time.time()) + 3600, exp=int(time.time()) + 3660
    )
    assert requests.post(token_url, data={**data, "client_assertion": future}, timeout=10).status_code == 400
    other_pem, _ = _ec_jwks()
    forged = _assertion(other_pem, dept.client_id, token_url)
    assert requests.post(token_url, data={**data, "client_assertion": forged}, timeout=10).status_code == 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_forged_access_tokens_are_refused(gateway):
    dept = department(gateway)
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    header, payload, _sig = tokens["access_token"].split(".")
    none_header = _b64(b'{"alg":"none","typ":"at+jwt"}')
    none_token = f"{none_header}.{payload}."
    assert userinfo_status(dept, none_token) == 401
    # HS256 signed with the published public key as the HMAC secret.
    public_jwk = next(k for k in dept.jwks()["keys"] if k["alg"] == "ES256")
    secret = jose_jwk.construct(public_jwk, "ES256").to_pem()
    import hmac

    hs_header = _b64(b'{"alg":"HS256","typ":"at+jwt","kid":"' + public_jwk["kid"].encode() + b'"}')
    signing_input = f"{hs_header}.{payload}".encode()
    signature = _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    assert userinfo_status(dept, f"{hs_header}.{payload}.{signature}") == 401
    tampered = f"{header}.{payload[:-4]}AAAA.{_sig}"
    assert userinfo_status(dept, tampered) == 401
    missing = requests.get(dept.metadata["userinfo_endpoint"], timeout=10)
    assert missing.status_code == 401 and "Bearer" in missing.headers["WWW-Authenticate"]


def test_a_token_this_process_signed_skips_the_signature_check_a_forged_one_gets(gateway, monkeypatch):
    """The provider remembers the signatures it makes (``kit.access_tokens``): a token it
    issued is believed at its own userinfo without checking it again; any other string is
    checked, here by a check that refuses everything."""
    dept = department(gateway)
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    checked: list[bytes] = []
    monkeypatch.setattr(
        "kit.access_tokens._es256_signature_checks",
        lambda _key, signing_input, _signature: checked.append(signing_input) and False,
    )
    assert userinfo_status(dept, tokens["access_token"]) == 200
    assert checked == []
    header, payload, signature = tokens["access_token"].split(".")
    assert userinfo_status(dept, f"{header}.{payload}.{signature[:-4]}AAAA") == 401
    assert checked == [f"{header}.{payload}".encode()]


def test_expired_access_token_is_refused(gateway):
    dept = department(gateway)
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    with gateway.runtime.clock.shifted(seconds=gateway.runtime.settings.access_token_ttl_seconds + 1):
        assert userinfo_status(dept, tokens["access_token"]) == 401


def test_userinfo_refuses_a_token_of_an_account_no_longer_active(gateway):
    """An account suspended by a path that leaves its tokens unrevoked (a direct change by
    an operator) releases nothing: userinfo reads the account's status with its claims."""
    from sqlalchemy import update

    from identity.accounts.models import Account
    from kit.db import session_scope

    dept = department(gateway)
    account_id = gateway.new_resident()
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, account_id, scope="openid profile")
    assert userinfo_status(dept, tokens["access_token"]) == 200
    for db in session_scope(gateway.runtime.sessions):
        db.execute(update(Account).where(Account.id == account_id).values(status="suspended"))
    answer = requests.get(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert "CHAN" not in answer.text


def test_revocation_of_access_and_refresh_tokens(gateway):
    dept = department(gateway)
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    revoke = dept.metadata["revocation_endpoint"]
    auth = (dept.client_id, dept.client_secret)
    assert (
        requests.post(revoke, data={"token": tokens["access_token"]}, auth=auth, timeout=10).status_code
        == 200
    )
    assert userinfo_status(dept, tokens["access_token"]) == 401
    assert (
        requests.post(
            revoke,
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=auth,
            timeout=10,
        ).status_code
        == 200
    )
    refreshed = post_token(dept, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.json()["error"] == "invalid_grant"
    unknown = requests.post(revoke, data={"token": "never-issued"}, auth=auth, timeout=10)
    assert unknown.status_code == 200  # RFC 7009 §2.2
    introspect = requests.post(
        dept.metadata["introspection_endpoint"], data={"token": tokens["access_token"]}, auth=auth, timeout=10
    ).json()
    assert introspect == {"active": False}


def test_key_rotation_keeps_old_tokens_verifiable(gateway, monkeypatch):
    from identity.keys.service import rotate
    from identity.tokens import verifier
    from kit.db import session_scope

    dept = department(gateway)
    before, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    old_kid = jose_jwt.get_unverified_header(before["access_token"])["kid"]
    for db in session_scope(gateway.runtime.sessions):
        rotate(db, gateway.runtime.master_key, gateway.runtime.clock(), 600)
    # The serving process notices a rotation within CACHE_SECONDS; the test does not wait.
    monkeypatch.setattr("identity.keys.service.CACHE_SECONDS", 0.0)
    verifier.forget_own_keys()
    after, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident(), scope="openid")
    new_kid = jose_jwt.get_unverified_header(after["access_token"])["kid"]
    assert new_kid != old_kid
    kids = {k["kid"] for k in dept.jwks()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert userinfo_status(dept, before["access_token"]) == 200
    dept.verify_access_token(before["access_token"])


def test_oauth2_session_refresh_helper_works_like_a_department_would(gateway):
    dept = department(gateway)
    oauth, callback = code_for(gateway, dept)
    tokens = dept.exchange(oauth, callback)
    client = OAuth2Session(dept.client_id, token=tokens)
    refreshed = client.refresh_token(
        dept.metadata["token_endpoint"], auth=(dept.client_id, dept.client_secret)
    )
    assert refreshed["access_token"] != tokens["access_token"]
