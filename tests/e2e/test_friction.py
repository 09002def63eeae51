"""Issue 15's friction list, item by item, with each client library's DEFAULTS over real HTTP:
Authlib's client (``authlib.integrations.requests_client``), requests-oauthlib with PyJWT,
pyoidc and openid-client 6 (tests/node_rp, in test_fapi2_openid_client.py's runner).

pyoidc is not in the lock: its requests are reproduced here exactly as its defaults make
them (``oic.oic.Client``): a client assertion from ``assertion_jwt(..., lifetime=600)``
(``iss``/``sub`` the client id, ``aud`` a list naming the token endpoint, or the issuer at
other endpoints, a 32-character ``jti``, RS256 with the key's ``kid``), and userinfo from
``do_user_info_request(method="POST")``: the token as ``access_token`` in a form-encoded body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import REDIRECT_URI, form_fields
from tests.e2e.oidc_client import follow_to_callback, query_of
from tests.e2e.test_fapi2_openid_client import run_node_rp
from tests.e2e.test_oidc_code_flow import department, sign_in_and_get_tokens

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
POST_LOGOUT = "https://dept.example.gov.hk/signed-out"
PASSWORD = "a long demo passphrase"


def rsa_department(gateway) -> tuple[str, bytes, str]:
    """A private_key_jwt client with an RSA key (Authlib's and pyoidc's default RS256):
    (client_id, private key PEM, kid)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    kid = f"dept-rsa-{secrets.token_hex(3)}"
    public.update(kid=kid, use="sig", alg="RS256")
    client_id, _ = gateway.register_client(
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
        allowed_scopes=("openid", "ledger:department"),
    )
    return client_id, pem, kid


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def pyoidc_assertion(
    client_id: str, pem: bytes, kid: str, audience: str, lifetime: int = 600, **claims
) -> str:
    """``oic.utils.authn.client.assertion_jwt`` as pyoidc calls it by default."""
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": [audience],
        "jti": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
        "exp": now + lifetime,
        "iat": now,
        **claims,
    }
    return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": kid})


def with_assertion(url: str, assertion: str, **data: str) -> requests.Response:
    body = {**data, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return requests.post(url, data=body, timeout=10)


# -- 1. client assertions valid longer than 300 s -------------------------------------------


def test_authlibs_hour_long_assertions_are_taken_at_every_endpoint(gateway):
    meta = gateway.discovery()
    client_id, pem, _ = rsa_department(gateway)
    sent: list[str] = []
    session = AuthlibSession(
        client_id,
        pem,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",  # Authlib asks for it separately
        scope="ledger:department",
    )
    session.register_client_auth_method(PrivateKeyJWT())  # Authlib's defaults throughout
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request.body))
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "ledger:department"
    assertion = claims_of(dict(pair.split("=") for pair in sent[-1].split("&"))["client_assertion"])
    assert assertion["exp"] - assertion["iat"] == 3600 and assertion["aud"] == meta["token_endpoint"]
    # At introspection and revocation Authlib names the URL it posts to as the audience.
    introspected = session.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    assert session.revoke_token(meta["revocation_endpoint"], token=token["access_token"]).status_code == 200
    after = session.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert after.json() == {"active": False}


def test_pyoidcs_default_assertion_is_taken(gateway):
    meta = gateway.discovery()
    client_id, pem, kid = rsa_department(gateway)
    issued = with_assertion(
        meta["token_endpoint"],
        pyoidc_assertion(client_id, pem, kid, meta["token_endpoint"]),
        grant_type="client_credentials",
        scope="ledger:department",
    )
    assert issued.status_code == 200, issued.text
    # At introspection pyoidc's audience is the issuer.
    introspected = with_assertion(
        meta["introspection_endpoint"],
        pyoidc_assertion(client_id, pem, kid, meta["issuer"]),
        token=issued.json()["access_token"],
    )
    assert introspected.status_code == 200 and introspected.json()["active"] is True


def test_an_assertion_beyond_the_maximum_is_refused_with_its_reason(gateway):
    token_url = gateway.discovery()["token_endpoint"]
    client_id, pem, kid = rsa_department(gateway)
    too_long = with_assertion(
        token_url,
        pyoidc_assertion(client_id, pem, kid, token_url, lifetime=3601),
        grant_type="client_credentials",
    )
    assert too_long.status_code == 400 and "www-authenticate" not in too_long.headers
    body = too_long.json()
    assert body["error"] == "invalid_client"
    assert "valid for 3601 s" in body["error_description"] and "at most 3600 s" in body["error_description"]
    # The reason is told only to a client that proved its key: a forged assertion learns nothing.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = with_assertion(
        token_url,
        pyoidc_assertion(client_id, other, kid, token_url, lifetime=3601),
        grant_type="client_credentials",
    )
    assert forged.status_code == 400 and forged.json()["error_description"] == "Client authentication failed."


def test_an_assertions_jti_is_refused_until_the_assertion_expires(gateway):
    token_url = gateway.discovery()["token_endpoint"]
    client_id, pem, kid = rsa_department(gateway)
    assertion = pyoidc_assertion(client_id, pem, kid, token_url, lifetime=3000)
    assert with_assertion(token_url, assertion, grant_type="client_credentials").status_code == 200
    with gateway.runtime.clock.shifted(seconds=2000):  # long past 300 s, still before exp
        replayed = with_assertion(token_url, assertion, grant_type="client_credentials")
    assert replayed.status_code == 400 and "already used" in replayed.json()["error_description"]


# -- 2. either secret method for a client with a secret --------------------------------------


@pytest.mark.parametrize("registered", ["client_secret_basic", "client_secret_post"])
def test_a_client_with_a_secret_may_send_it_either_way(gateway, registered):
    meta = gateway.discovery()
    assert {"client_secret_basic", "client_secret_post"} <= set(meta["token_endpoint_auth_methods_supported"])
    client_id, secret = gateway.register_client(
        token_endpoint_auth_method=registered, allowed_scopes=("openid", "ledger:department")
    )
    data = {"grant_type": "client_credentials", "scope": "ledger:department"}
    basic = requests.post(meta["token_endpoint"], data=data, auth=(client_id, secret), timeout=10)
    posted = requests.post(
        meta["token_endpoint"], data={**data, "client_id": client_id, "client_secret": secret}, timeout=10
    )
    assert basic.status_code == 200 and posted.status_code == 200, (basic.text, posted.text)
    introspected = requests.post(
        meta["introspection_endpoint"],
        data={"token": basic.json()["access_token"], "client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    assert introspected.json()["active"] is True


def test_requests_oauthlibs_default_basic_works_for_a_client_registered_for_post(gateway):
    dept = department(gateway, token_endpoint_auth_method="client_secret_post")
    oauth = dept.session("openid")
    url, _ = dept.start(oauth)
    callback = follow_to_callback(gateway.browser(gateway.new_resident()), url)
    # fetch_token's defaults: the secret in an HTTP Basic header.
    tokens = oauth.fetch_token(
        dept.metadata["token_endpoint"], authorization_response=callback, client_secret=dept.client_secret
    )
    assert tokens["access_token"] and tokens["id_token"]


# -- 3. userinfo with the token in a form-encoded body ---------------------------------------


def test_userinfo_takes_the_token_as_pyoidc_posts_it_and_nowhere_else(gateway):
    dept = department(gateway)
    tokens, _, _ = sign_in_and_get_tokens(gateway, dept, gateway.new_resident())
    url = dept.metadata["userinfo_endpoint"]
    header = {"Authorization": f"Bearer {tokens['access_token']}"}
    expected = requests.get(url, headers=header, timeout=10).json()
    posted = requests.post(
        url,
        data=urlencode({"access_token": tokens["access_token"]}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert posted.status_code == 200 and posted.json() == expected
    in_query = requests.get(url, params={"access_token": tokens["access_token"]}, timeout=10)
    assert in_query.status_code == 400 and "query string" in in_query.json()["error_description"]
    twice = requests.post(url, data={"access_token": tokens["access_token"]}, headers=header, timeout=10)
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"
    as_json = requests.post(url, json={"access_token": tokens["access_token"]}, timeout=10)
    assert as_json.status_code == 401  # not a form: no token was sent
    revoked = requests.post(
        dept.metadata["revocation_endpoint"],
        data={"token": tokens["access_token"]},
        auth=(dept.client_id, dept.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    refused = requests.post(url, data={"access_token": tokens["access_token"]}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


# -- 4. an ID token on refresh ----------------------------------------------------------------


def verified_with_pyjwt(
    meta: dict[str, Any], id_token: str, client_id: str, leeway: int = 0
) -> dict[str, Any]:
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(id_token)
    return jwt.decode(
        id_token,
        key.key,
        algorithms=["RS256", "ES256"],
        audience=client_id,
        issuer=meta["issuer"],
        leeway=leeway,
    )


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_a_refresh_brings_an_id_token_of_the_original_sign_in_that_logout_takes(gateway):
    dept = department(gateway)
    tokens, nonce, browser = sign_in_and_get_tokens(
        gateway,
        dept,
        gateway.new_resident(),
        scope="openid profile",
        claims=json.dumps({"id_token": {"name": None}}),  # asked in the ID token, so in the next one too
    )
    meta = dept.metadata
    original = verified_with_pyjwt(meta, tokens["id_token"], dept.client_id)
    with gateway.runtime.clock.shifted(seconds=120):
        refreshed = OAuth2Session(dept.client_id, token=tokens).refresh_token(
            meta["token_endpoint"], auth=(dept.client_id, dept.client_secret)
        )
    # Issued two minutes "later" by the gateway's shifted clock: PyJWT allows for that.
    claims = verified_with_pyjwt(meta, refreshed["id_token"], dept.client_id, leeway=180)
    assert original["nonce"] == nonce and "nonce" not in claims  # OIDC Core §12.2
    for name in ("iss", "sub", "aud", "azp", "auth_time", "acr", "amr", "sid", "name"):
        assert claims[name] == original[name], name
    assert claims["iat"] >= original["iat"] + 120 and claims["at_hash"] == at_hash(refreshed["access_token"])
    # RP-initiated logout with the refreshed ID token as the hint ends the resident's session.
    logout = browser.get(
        meta["end_session_endpoint"],
        params={
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT,
            "state": "s1",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 303 and logout.headers["location"] == f"{POST_LOGOUT}?state=s1"
    oauth = dept.session("openid")
    url, _ = dept.start(oauth, prompt="none")
    silent = browser.get(url, allow_redirects=False, timeout=10)
    assert query_of(silent.headers["location"])["error"] == "login_required"


def test_openid_client_with_its_defaults(gateway):
    client_id, secret = gateway.register_client(allowed_scopes=("openid", "profile", "ledger:department"))
    browser = gateway.browser(gateway.new_resident())
    result = run_node_rp(
        gateway,
        client_id,
        None,
        "secret-defaults",
        browser=browser,
        client_secret=secret,
        post_logout_redirect_uri=POST_LOGOUT,
    )
    # RFC 8414 discovery (algorithm 'oauth2') finds the same issuer.
    assert result["oauth2_metadata"] == {
        "url": f"{gateway.base_url}/.well-known/oauth-authorization-server",
        "issuer": gateway.base_url,
    }
    # client_secret_post, openid-client's default, for a client registered for Basic.
    assert result["token_request_authorization"] is None
    refreshed, original = result["refreshed_id_token_claims"], result["id_token_claims"]
    assert refreshed["sub"] == original["sub"] and refreshed["auth_time"] == original["auth_time"]
    assert "nonce" not in refreshed
    assert result["department_token_type"] == "bearer"
    # The end-session URL it builds from the refreshed ID token signs the resident out.
    logout = browser.get(result["end_session"], allow_redirects=False, timeout=10)
    assert logout.status_code == 303 and logout.headers["location"] == POST_LOGOUT


# -- 5. and 6. invalid_client and unsupported_response_type, described -----------------------


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/par", "/bc-authorize"])
def test_invalid_client_challenges_basic_only_and_says_so_in_words(gateway, path):
    client_id, _ = gateway.register_client()
    url = f"{gateway.base_url}{path}"
    data = {"grant_type": "client_credentials", "token": "x"}
    basic = requests.post(url, data=data, auth=(client_id, "wrong"), timeout=10)
    posted = requests.post(url, data={**data, "client_id": client_id, "client_secret": "wrong"}, timeout=10)
    assert basic.status_code == 401 and basic.headers["WWW-Authenticate"].startswith("Basic ")
    assert posted.status_code == 400 and "www-authenticate" not in posted.headers
    for response in (basic, posted):
        assert response.json() == {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        }


def test_unsupported_response_type_is_described(gateway):
    dept = department(gateway)
    oauth = dept.session("openid")
    url, _ = dept.start(oauth)
    implicit = url.replace("response_type=code", "response_type=token")
    response = gateway.browser(gateway.new_resident()).get(implicit, allow_redirects=False, timeout=10)
    error = query_of(response.headers["location"])
    assert error["error"] == "unsupported_response_type"
    assert error["error_description"] == (
        "response_type 'token' is not supported: this provider issues authorization codes only "
        "(response_type=code, with PKCE)."
    )


# -- 7. RFC 8414 metadata ---------------------------------------------------------------------


def test_authorization_server_metadata_is_the_openid_document(gateway):
    oidc = requests.get(f"{gateway.base_url}/.well-known/openid-configuration", timeout=10).json()
    oauth = requests.get(f"{gateway.base_url}/.well-known/oauth-authorization-server", timeout=10)
    assert oauth.status_code == 200 and oauth.json() == oidc
    assert oidc["issuer"] == gateway.base_url
    for endpoint in ("revocation", "introspection"):
        assert "private_key_jwt" in oidc[f"{endpoint}_endpoint_auth_methods_supported"]
        assert oidc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]


# -- 8. prompt=select_account -----------------------------------------------------------------


def chooser(browser: requests.Session, url: str) -> requests.Response:
    """Follows the authorization request to the account choice."""
    start = browser.get(url, allow_redirects=False, timeout=10)
    assert start.status_code == 303 and urlsplit(start.headers["location"]).path == "/signin", start.text
    page = browser.get(
        urlsplit(url)._replace(path="", query="").geturl() + start.headers["location"], timeout=10
    )
    assert page.status_code == 200
    return page


def test_select_account_offers_the_signed_in_account_once(gateway):
    dept = department(gateway)
    browser = gateway.browser(gateway.new_resident())
    oauth = dept.session("openid profile")
    url, _ = dept.start(oauth, prompt="select_account")
    page = chooser(browser, url)
    assert "Choose an account" in page.text and "Continue as CHAN Tai Man" in page.text
    assert "Use another account" in page.text and 'name="password"' in page.text
    chinese = browser.get(page.url + "&ui_locales=zh-HK", timeout=10)
    assert "選擇帳戶" in chinese.text and "以 CHAN Tai Man 的身分繼續" in chinese.text
    continue_to = page.text.split('id="continue-as" href="')[1].split('"')[0].replace("&amp;", "&")
    # Coming back from the choice, the request goes on (and is not asked again).
    callback = follow_to_callback(browser, gateway.base_url + continue_to)
    tokens = dept.exchange(oauth, callback)
    assert tokens["id_token"]


def test_select_account_lets_another_account_sign_in(gateway):
    dept = department(gateway)
    first = gateway.new_resident()
    other_email = f"other-{secrets.token_hex(4)}@example.hk"
    gateway.new_resident(email=other_email)
    browser = gateway.browser(first)
    oauth = dept.session("openid email")
    url, _ = dept.start(oauth, prompt="select_account")
    page = chooser(browser, url)
    fields = form_fields(page.text.split('id="another-account"')[1])
    fields.update(identifier=other_email, password=PASSWORD)
    signed_in = browser.post(page.url, data=fields, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 303, signed_in.text[:300]
    callback = follow_to_callback(browser, gateway.base_url + signed_in.headers["location"])
    tokens = dept.exchange(oauth, callback)
    userinfo = requests.get(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert userinfo["email"] == other_email


def test_select_account_without_a_session_signs_in_once(gateway):
    email = f"resident-{secrets.token_hex(4)}@example.hk"
    gateway.new_resident(email=email)
    dept = department(gateway)
    oauth = dept.session("openid")
    url, _ = dept.start(oauth, prompt="select_account")
    browser = requests.Session()
    page = chooser(browser, url)
    assert "Choose an account" not in page.text and 'name="password"' in page.text
    fields = form_fields(page.text)
    fields.update(identifier=email, password=PASSWORD)
    signed_in = browser.post(page.url, data=fields, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 303, signed_in.text[:300]
    # Back at the request with the sign-in just made: no second account choice.
    callback = follow_to_callback(browser, gateway.base_url + signed_in.headers["location"])
    assert callback.startswith(REDIRECT_URI) and dept.exchange(oauth, callback)["id_token"]
