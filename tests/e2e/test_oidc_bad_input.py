"""Bad input at the OpenID endpoints answers in OAuth's own error format, never 500
(issue 13 item 1: F2 a client assertion for a client without keys, F3 a malformed ``claims``
parameter). Over real HTTP, as any department or attacker would send it."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlencode

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt as jose_jwt

from tests.e2e.conftest import form_fields
from tests.e2e.oidc_client import query_of
from tests.e2e.test_oidc_code_flow import department

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _assertion(client_id: str, audience: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60}
    claims["jti"] = secrets.token_urlsafe(12)
    return jose_jwt.encode(claims, pem, algorithm="ES256", headers={"kid": "k1"})


CLIENTS_WITHOUT_USABLE_KEYS = {
    "secret client": dict(token_endpoint_auth_method="client_secret_basic"),
    "secret-post client": dict(token_endpoint_auth_method="client_secret_post"),
    "public client": dict(token_endpoint_auth_method="none", grant_types=("authorization_code",)),
    "empty key set": dict(token_endpoint_auth_method="private_key_jwt", jwks={"keys": []}),
    "unusable key": dict(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{"kty": "EC"}]}),
}


@pytest.mark.parametrize(
    "registration", list(CLIENTS_WITHOUT_USABLE_KEYS.values()), ids=list(CLIENTS_WITHOUT_USABLE_KEYS)
)
@pytest.mark.parametrize("endpoint", ["token_endpoint", "introspection_endpoint", "revocation_endpoint"])
def test_a_client_assertion_for_a_client_without_keys_is_invalid_client(gateway, registration, endpoint):
    dept = department(gateway, **registration)
    url = dept.metadata[endpoint]
    data = {
        "grant_type": "client_credentials",
        "token": "x",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": _assertion(dept.client_id, dept.metadata["token_endpoint"]),
    }
    response = requests.post(url, data=data, timeout=10)
    # No HTTP Basic: a 400 without a challenge (RFC 6749 §5.2).
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "www-authenticate" not in response.headers
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_client"


MALFORMED_CLAIMS = [
    {"id_token": {"acr": {"essential": True, "values": 5}}},  # F3 as reported
    {"id_token": {"acr": {"values": [5]}}},
    {"userinfo": {"email": {"essential": "yes"}}},
    {"userinfo": ["email"]},
    ["id_token"],
    "{not json",
]


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS, ids=range(len(MALFORMED_CLAIMS)))
def test_a_malformed_claims_parameter_is_invalid_request_at_the_client(gateway, claims):
    dept = department(gateway)
    oauth = dept.session("openid")
    text = claims if isinstance(claims, str) else json.dumps(claims)
    url, _ = dept.start(oauth, claims=text)
    browser = gateway.browser(gateway.new_resident())
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = response.headers["location"]
    assert location.startswith(dept.redirect_uri + "?")
    params = query_of(location)
    assert params["error"] == "invalid_request" and "code" not in params
    assert params["state"] == query_of(url)["state"] and params["iss"] == gateway.runtime.settings.issuer
    # Without a session the answer is the same: the request is checked before sign-in.
    anonymous = requests.get(url, allow_redirects=False, timeout=10)
    assert query_of(anonymous.headers["location"])["error"] == "invalid_request"


def test_a_malformed_claims_parameter_with_an_unregistered_redirect_uri_is_an_error_page(gateway):
    dept = department(gateway)
    oauth = dept.session("openid")
    url, _ = dept.start(oauth, claims=json.dumps(MALFORMED_CLAIMS[0]))
    url = url.replace("dept.example.gov.hk", "attacker.example")
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS + [{"id_token": 5}], ids=range(len(MALFORMED_CLAIMS) + 1))
def test_a_malformed_claims_parameter_in_an_app_sign_in_is_read_as_no_claims(gateway, claims):
    """The phone-app sign-in reads the same parameter from the resume path, through the same
    validator: a bad one asks for no claims rather than failing."""
    dept = department(gateway)
    browser = requests.Session()
    page = browser.get(f"{gateway.base_url}/signin", timeout=10)
    text = claims if isinstance(claims, str) else json.dumps(claims)
    resume = "/authorize?" + urlencode(
        {"client_id": dept.client_id, "scope": "openid profile", "claims": text}
    )
    fields = {"csrf_token": form_fields(page.text)["csrf_token"], "next": resume}
    response = browser.post(
        f"{gateway.base_url}/signin/app/start", data=fields, allow_redirects=False, timeout=10
    )
    assert response.status_code == 303, (response.status_code, response.text[:300])
    assert response.headers["location"].startswith("/signin/app?rid=")
