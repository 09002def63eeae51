"""PAR (RFC 9126), DPoP (RFC 9449), JAR (RFC 9101) and resource indicators (RFC 8707) over
HTTP, message by message, with requests, and proofs and assertions signed independently of
the provider (tests/support/dpop.py): what openid-client's journeys
(test_fapi2_openid_client.py) do not reach, such as expiry, keys that do not match and the
refusals' exact shape."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

import requests

from tests.e2e.conftest import REDIRECT_URI
from tests.e2e.oidc_client import follow_to_callback, query_of
from tests.support.dpop import KeyHolder, b64

PKCE_VERIFIER = "a-pkce-verifier-that-is-long-enough-0123456789abcdefghijk"
PKCE_CHALLENGE = b64(hashlib.sha256(PKCE_VERIFIER.encode()).digest())
DEPARTMENT_API = "https://api.dept.example.gov.hk/records"


class FapiClient:
    """A department with a private_key_jwt key, talking to the gateway by hand."""

    def __init__(self, gateway: Any, **registration: Any) -> None:
        self.gateway = gateway
        self.issuer = gateway.base_url
        self.key = KeyHolder(kid="k1")
        fields: dict[str, Any] = {
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [self.key.public_jwk]},
            "allowed_scopes": ("openid", "profile", "ledger:department"),
        }
        fields.update(registration)
        self.client_id, _ = gateway.register_client(**fields)

    def auth(self) -> dict[str, str]:
        if self.key is None:
            return {"client_id": self.client_id}
        return {
            "client_id": self.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.key.client_assertion(self.client_id, self.issuer),
        }

    def authorization(self, **extra: str) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": "s-1",
            "nonce": "n-1",
            "code_challenge": PKCE_CHALLENGE,
            "code_challenge_method": "S256",
            **extra,
        }

    def push(self, params: dict[str, Any], dpop: str | None = None) -> requests.Response:
        headers = {"DPoP": dpop} if dpop else {}
        return requests.post(
            f"{self.issuer}/par", data={**params, **self.auth()}, headers=headers, timeout=10
        )

    def token(self, data: dict[str, Any], dpop: str | None = None) -> requests.Response:
        headers = {"DPoP": dpop} if dpop else {}
        return requests.post(
            f"{self.issuer}/token", data={**data, **self.auth()}, headers=headers, timeout=10
        )

    def code_request(self, code: str) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": PKCE_VERIFIER,
        }

    def nonce(self, holder: KeyHolder, path: str = "/token") -> str:
        """The server's DPoP nonce, learnt as a client does: from a refusal (RFC 9449 §8)."""
        response = requests.post(
            f"{self.issuer}{path}",
            data={},
            headers={"DPoP": holder.proof("POST", self.issuer + path)},
            timeout=10,
        )
        assert response.status_code == 400 and response.json()["error"] == "use_dpop_nonce", response.text
        return response.headers["DPoP-Nonce"]

    def dpop_for(self, holder: KeyHolder, path: str = "/token") -> str:
        return holder.proof("POST", self.issuer + path, nonce=self.nonce(holder, path))

    def sign_in(self, authorize_query: dict[str, str]) -> str:
        browser = self.gateway.browser(self.gateway.new_resident())
        return follow_to_callback(browser, f"{self.issuer}/authorize?{urlencode(authorize_query)}")


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def page_of(client: FapiClient, query: dict[str, str]) -> requests.Response:
    browser = client.gateway.browser(client.gateway.new_resident())
    return browser.get(f"{client.issuer}/authorize?{urlencode(query)}", allow_redirects=False, timeout=10)


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_publishes_par_dpop_and_jar(gateway):
    meta = requests.get(f"{gateway.base_url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["pushed_authorization_request_endpoint"] == f"{gateway.base_url}/par"
    assert meta["require_pushed_authorization_requests"] is False
    assert meta["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "PS256"]
    assert meta["request_parameter_supported"] is True
    assert meta["request_uri_parameter_supported"] is False
    assert "none" not in meta["request_object_signing_alg_values_supported"]


# -- PAR ---------------------------------------------------------------------------------------


def test_a_pushed_request_stands_for_its_parameters_once_and_for_its_client_only(gateway):
    client = FapiClient(gateway, require_pushed_authorization_requests=True)
    other = FapiClient(gateway)
    pushed = client.push(client.authorization())
    assert pushed.status_code == 201 and pushed.headers["Cache-Control"] == "no-store"
    request_uri, expires_in = pushed.json()["request_uri"], pushed.json()["expires_in"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:") and 0 < expires_in <= 90

    foreign = page_of(client, {"client_id": other.client_id, "request_uri": request_uri})
    assert foreign.status_code == 400 and "invalid_request_uri" in foreign.text

    front = {"client_id": client.client_id, "request_uri": request_uri}
    callback = client.sign_in(front)
    assert callback.startswith(REDIRECT_URI) and query_of(callback)["state"] == "s-1"
    again = page_of(client, front)
    assert again.status_code == 400 and "invalid_request_uri" in again.text

    plain = page_of(client, client.authorization())
    assert plain.status_code == 400 and "must push its authorization requests" in plain.text


def test_a_pushed_request_not_opened_in_time_expires(gateway):
    client = FapiClient(gateway)
    request_uri = client.push(client.authorization()).json()["request_uri"]
    with gateway.runtime.clock.shifted(seconds=61):
        late = page_of(client, {"client_id": client.client_id, "request_uri": request_uri})
    assert late.status_code == 400 and "invalid_request_uri" in late.text


def test_the_par_endpoint_refuses_what_authorize_would(gateway):
    client = FapiClient(gateway, resources=(DEPARTMENT_API,))
    unauthenticated = requests.post(f"{gateway.base_url}/par", data=client.authorization(), timeout=10)
    assert unauthenticated.status_code == 400 and unauthenticated.json()["error"] == "invalid_client"
    cases = [
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_request"),
        ({"resource": "https://elsewhere.example/api"}, "invalid_target"),
        ({"prompt": "sometimes"}, "invalid_request"),
    ]
    for change, error in cases:
        refused = client.push(client.authorization(**change))
        assert refused.status_code == 400 and refused.json()["error"] == error, (change, refused.text)
    assert client.push(client.authorization(resource=DEPARTMENT_API)).status_code == 201


def test_only_our_own_request_uris_are_taken(gateway):
    client = FapiClient(gateway)
    refused = page_of(client, {"client_id": client.client_id, "request_uri": "https://evil.example/req"})
    assert refused.status_code == 400 and "request_uri_not_supported" in refused.text


# -- DPoP at the token endpoint ------------------------------------------------------------------


def test_a_code_pushed_with_a_dpop_proof_is_redeemed_with_that_key_only(gateway):
    client = FapiClient(gateway, profile="fapi2")
    holder, stranger = KeyHolder(), KeyHolder()
    pushed = client.push(client.authorization(), dpop=client.dpop_for(holder, "/par"))
    assert pushed.status_code == 201, pushed.text
    code = query_of(
        client.sign_in({"client_id": client.client_id, "request_uri": pushed.json()["request_uri"]})
    )["code"]

    without = client.token(client.code_request(code))
    assert without.status_code == 400 and without.json()["error"] == "invalid_dpop_proof"
    no_nonce = client.token(client.code_request(code), dpop=holder.proof("POST", f"{client.issuer}/token"))
    assert no_nonce.status_code == 400 and no_nonce.json()["error"] == "use_dpop_nonce"
    assert no_nonce.headers["DPoP-Nonce"]
    wrong_key = client.token(client.code_request(code), dpop=client.dpop_for(stranger))
    assert wrong_key.status_code == 400 and wrong_key.json()["error"] == "invalid_grant"

    proof = client.dpop_for(holder)
    issued = client.token(client.code_request(code), dpop=proof)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "DPoP" and issued.headers["DPoP-Nonce"]
    assert claims_of(body["access_token"])["cnf"] == {"jkt": holder.thumbprint}
    replay = client.token({"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, dpop=proof)
    assert replay.status_code == 400 and "already used" in replay.json()["error_description"]

    introspected = requests.post(
        f"{client.issuer}/introspect", data={"token": body["access_token"], **client.auth()}, timeout=10
    ).json()
    assert introspected["token_type"] == "DPoP" and introspected["cnf"] == {"jkt": holder.thumbprint}


def test_a_public_client_s_refresh_token_is_bound_to_its_dpop_key(gateway):
    client = FapiClient(
        gateway,
        token_endpoint_auth_method="none",
        jwks=None,
        grant_types=("authorization_code", "refresh_token"),
    )
    client.key = None  # type: ignore[assignment]  # a public client authenticates with nothing
    holder, thief = KeyHolder(), KeyHolder()
    code = query_of(client.sign_in(client.authorization()))["code"]
    tokens = client.token(client.code_request(code), dpop=client.dpop_for(holder)).json()
    assert tokens["token_type"] == "DPoP"
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert client.token(refresh).json()["error"] == "invalid_grant"
    stolen = client.token(refresh, dpop=client.dpop_for(thief))
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    renewed = client.token(refresh, dpop=client.dpop_for(holder))
    assert renewed.status_code == 200 and renewed.json()["token_type"] == "DPoP"


# -- DPoP at the resource servers ----------------------------------------------------------------


def test_the_consent_api_takes_a_dpop_bound_token_only_with_its_proof(gateway):
    client = FapiClient(gateway, grant_types=("client_credentials",), dpop_bound_access_tokens=True)
    holder = KeyHolder()
    refused = client.token({"grant_type": "client_credentials", "scope": "ledger:department"})
    assert refused.json()["error"] == "invalid_dpop_proof"
    token = client.token(
        {"grant_type": "client_credentials", "scope": "ledger:department"}, dpop=client.dpop_for(holder)
    ).json()["access_token"]
    url = f"{client.issuer}/consent/ledger/department/entries"

    as_bearer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert as_bearer.status_code == 401 and as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in as_bearer.headers["WWW-Authenticate"]
    proof = holder.proof("GET", url, access_token=token)
    ok = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}, timeout=10)
    assert ok.status_code == 200, ok.text
    replayed = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}, timeout=10)
    assert (
        replayed.status_code == 401 and 'error="invalid_dpop_proof"' in replayed.headers["WWW-Authenticate"]
    )
    other_token_proof = holder.proof("GET", url, access_token=token + "x")
    wrong_ath = requests.get(
        url, headers={"Authorization": f"DPoP {token}", "DPoP": other_token_proof}, timeout=10
    )
    assert wrong_ath.status_code == 401
    stale = holder.proof("GET", url, access_token=token, nonce="stale")
    asked = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": stale}, timeout=10)
    assert 'error="use_dpop_nonce"' in asked.headers["WWW-Authenticate"] and asked.headers["DPoP-Nonce"]


def test_a_bearer_token_in_the_dpop_scheme_is_refused_at_userinfo(gateway):
    client = FapiClient(gateway)
    code = query_of(client.sign_in(client.authorization()))["code"]
    token = client.token(client.code_request(code)).json()
    assert token["token_type"] == "Bearer"
    url = f"{client.issuer}/userinfo"
    holder = KeyHolder()
    proof = holder.proof("GET", url, access_token=token["access_token"])
    refused = requests.get(
        url, headers={"Authorization": f"DPoP {token['access_token']}", "DPoP": proof}, timeout=10
    )
    assert refused.status_code == 401 and "not DPoP-bound" in refused.json()["error_description"]
    assert requests.get(url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10).ok


# -- JAR ---------------------------------------------------------------------------------------


def request_object(client: FapiClient, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        **client.authorization(),
        "iss": client.client_id,
        "aud": client.issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return client.key.sign({k: v for k, v in claims.items() if v is not None}, typ="oauth-authz-req+jwt")


def test_a_client_held_to_signed_request_objects_signs_in_with_one(gateway):
    client = FapiClient(gateway, require_signed_request_object=True)
    plain = page_of(client, client.authorization())
    assert plain.status_code == 400 and "signed request object" in plain.text

    callback = client.sign_in({"client_id": client.client_id, "request": request_object(client)})
    assert query_of(callback)["state"] == "s-1" and "code" in query_of(callback)

    for changes, words in [
        ({"aud": "https://other-issuer.example"}, "aud"),
        ({"iss": "someone-else"}, "iss"),
        ({"exp": int(time.time()) - 10}, "exp"),
        ({"exp": None}, "exp"),
        ({"exp": int(time.time()) + 7200}, "exp"),
    ]:
        refused = page_of(
            client, {"client_id": client.client_id, "request": request_object(client, **changes)}
        )
        assert refused.status_code == 400 and "invalid_request_object" in refused.text, (changes, words)
        assert words in refused.text

    header = b64(json.dumps({"alg": "none"}).encode())
    payload = b64(
        json.dumps({**client.authorization(), "iss": client.client_id, "aud": client.issuer}).encode()
    )
    unsigned = page_of(client, {"client_id": client.client_id, "request": f"{header}.{payload}."})
    assert unsigned.status_code == 400 and "signed with supported algorithms" in unsigned.text


# -- resource indicators -----------------------------------------------------------------------


def test_resource_sets_the_audience_and_must_be_registered(gateway):
    client = FapiClient(
        gateway, resources=(DEPARTMENT_API,), grant_types=("authorization_code", "client_credentials")
    )
    grant = {"grant_type": "client_credentials", "scope": "ledger:department"}
    default = client.token(grant).json()["access_token"]
    assert claims_of(default)["aud"] == [
        gateway.base_url,
        f"{gateway.base_url}/consent",
        f"{gateway.base_url}/forms",
    ]
    targeted = client.token({**grant, "resource": DEPARTMENT_API}).json()["access_token"]
    assert claims_of(targeted)["aud"] == [DEPARTMENT_API]
    unknown = client.token({**grant, "resource": "https://elsewhere.example/api"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_target"

    code = query_of(client.sign_in(client.authorization(resource=DEPARTMENT_API)))["code"]
    widened = client.token({**client.code_request(code), "resource": gateway.base_url})
    assert widened.json()["error"] == "invalid_target"
    tokens = client.token(client.code_request(code)).json()
    assert claims_of(tokens["access_token"])["aud"] == [DEPARTMENT_API]
    refused = page_of(client, client.authorization(resource="https://elsewhere.example/api"))
    assert refused.status_code == 302 and "error=invalid_target" in refused.headers["location"]


def test_dpop_jkt_at_the_authorization_endpoint_binds_the_code(gateway):
    """RFC 9449 §10: a client without PAR names its key with ``dpop_jkt``."""
    client = FapiClient(gateway)
    holder, stranger = KeyHolder(), KeyHolder()
    malformed = page_of(client, client.authorization(dpop_jkt="x" * 100))
    assert malformed.status_code == 400 and "thumbprint" in malformed.text
    code = query_of(client.sign_in(client.authorization(dpop_jkt=holder.thumbprint)))["code"]
    assert client.token(client.code_request(code)).json()["error"] == "invalid_grant"
    assert (
        client.token(client.code_request(code), dpop=client.dpop_for(stranger)).json()["error"]
        == "invalid_grant"
    )
    issued = client.token(client.code_request(code), dpop=client.dpop_for(holder)).json()
    assert claims_of(issued["access_token"])["cnf"] == {"jkt": holder.thumbprint}
