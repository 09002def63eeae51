"""Discovery true to what the server does (issue 15): every member of the discovery document
is walked, and every value it advertises is used against the live gateway as a department
would use it. A member no test here checks, or a value the walk does not know, fails: a
feature cannot be advertised before it is honoured.

The department's side is requests (and requests-oauthlib) with PyJWT for every signature:
client assertions, request objects and DPoP proofs in each advertised algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from identity.accounts.models import Account
from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA, AMR_OTP, AMR_PASSWORD, AMR_SOFTWARE_KEY
from identity.security.keyring import build_keyring
from kit.db import session_scope
from tests.e2e.conftest import ADMIN_TOKEN, REDIRECT_URI, Gateway, form_fields
from tests.e2e.oidc_client import follow_to_callback, query_of
from tests.e2e.test_app_signin import resident_with_phone  # noqa: F401 - the fixture
from tests.e2e.test_ciba_modes import PingEndpoint
from tests.e2e.test_identity_assurance import VERIFIED_IDENTITY
from tests.identity.oidc.factories import proof
from tests.support.logout_receiver import LogoutReceiver

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CIBA = "urn:openid:params:grant-type:ciba"
PKCE_VERIFIER = "a-pkce-verifier-long-enough-for-rfc-7636-0123456789abcdef"
PKCE_CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(PKCE_VERIFIER.encode()).digest()).rstrip(b"=").decode()
)

# Each member of the discovery document, and the test below that checks it.
CHECKED_BY: dict[str, str] = {}


def checks(*members: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def mark(test: Callable[..., None]) -> Callable[..., None]:
        for member in members:
            CHECKED_BY[member] = test.__name__
        return test

    return mark


def unknown(member: str, value: Any) -> None:
    pytest.fail(f"discovery advertises {member} {value!r}, which this walk does not know how to check")


@pytest.fixture
def meta(gateway: Gateway) -> dict[str, Any]:
    return gateway.discovery()


# -- the department's keys, signed with PyJWT --------------------------------------------------


class Keys:
    """A department's key pairs: RSA (RS256, PS256), P-256 (ES256), P-384 (ES384)."""

    def __init__(self) -> None:
        self.private = {
            "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "p256": ec.generate_private_key(ec.SECP256R1()),
            "p384": ec.generate_private_key(ec.SECP384R1()),
        }

    @staticmethod
    def kind(alg: str) -> str:
        return {"RS256": "rsa", "PS256": "rsa", "ES256": "p256", "ES384": "p384"}[alg]

    def public(self, kind: str) -> dict[str, Any]:
        key = self.private[kind].public_key()
        algorithm = jwt.algorithms.RSAAlgorithm if kind == "rsa" else jwt.algorithms.ECAlgorithm
        return {**json.loads(algorithm.to_jwk(key)), "kid": kind, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public("rsa"), self.public("p256")]}

    def sign(self, claims: dict[str, Any], alg: str, **headers: Any) -> str:
        kind = self.kind(alg)
        return jwt.encode(claims, self.private[kind], algorithm=alg, headers={"kid": kind, **headers})

    def assertion(self, client_id: str, audience: str, alg: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60}
        claims["jti"] = secrets.token_urlsafe(16)
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.sign(claims, alg)}

    def dpop_proof(self, alg: str, url: str, nonce: str | None = None) -> str:
        kind = self.kind(alg)
        public = {k: v for k, v in self.public(kind).items() if k not in ("kid", "use")}
        claims = {"jti": secrets.token_urlsafe(16), "htm": "POST", "htu": url, "iat": int(time.time())}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(
            claims, self.private[kind], algorithm=alg, headers={"typ": "dpop+jwt", "jwk": public}
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def keyed_client(gateway: Gateway, keys: Keys, **registration: Any) -> str:
    client_id, _ = gateway.register_client(
        token_endpoint_auth_method="private_key_jwt", jwks=keys.jwks(), **registration
    )
    return client_id


# -- the resident's side -----------------------------------------------------------------------


def authorization(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": PKCE_CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


def authorize_url(meta: dict[str, Any], params: dict[str, str]) -> str:
    return f"{meta['authorization_endpoint']}?{urlencode(params)}"


def code_exchange(code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": PKCE_VERIFIER,
    }


def code_for(gateway: Gateway, meta: dict[str, Any], params: dict[str, str], browser=None) -> str:
    browser = browser or gateway.browser(gateway.new_resident())
    return query_of(follow_to_callback(browser, authorize_url(meta, params)))["code"]


def secret_tokens(
    gateway: Gateway, meta: dict[str, Any], client: tuple[str, str], browser=None, **extra: str
) -> dict[str, Any]:
    """A resident signed in to a client with a secret: the token response."""
    client_id, secret = client
    code = code_for(gateway, meta, authorization(client_id, **extra), browser)
    issued = requests.post(meta["token_endpoint"], data=code_exchange(code), auth=client, timeout=10)
    assert issued.status_code == 200, issued.text
    return issued.json()


def verified(meta: dict[str, Any], token: str, **checks: Any) -> dict[str, Any]:
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=[jwt.get_unverified_header(token)["alg"]], **checks)


def userinfo(meta: dict[str, Any], access_token: str) -> dict[str, Any]:
    answer = requests.get(
        meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- the walk ----------------------------------------------------------------------------------


def test_every_member_of_discovery_is_checked_here(meta):
    unchecked = set(meta) - set(CHECKED_BY)
    assert not unchecked, f"advertised but never checked by this walk: {sorted(unchecked)}"
    assert set(CHECKED_BY.values()) <= set(globals()), "a member names a test that does not exist"


@checks(
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "backchannel_authentication_endpoint",
    "pushed_authorization_request_endpoint",
)
def test_the_endpoints_are_the_issuers_and_answer_in_their_protocol(gateway, meta):
    assert meta["issuer"] == gateway.base_url
    rfc8414 = requests.get(f"{gateway.base_url}/.well-known/oauth-authorization-server", timeout=10)
    assert rfc8414.json()["issuer"] == meta["issuer"]
    answers = {
        "authorization_endpoint": ("GET", 400, "text/html"),  # no client: a page, no redirect
        "token_endpoint": ("POST", 400, "application/json"),
        "userinfo_endpoint": ("GET", 401, "application/json"),
        "jwks_uri": ("GET", 200, "application/json"),
        "revocation_endpoint": ("POST", 400, "application/json"),
        "introspection_endpoint": ("POST", 400, "application/json"),
        "end_session_endpoint": ("GET", 200, "text/html"),
        "backchannel_authentication_endpoint": ("POST", 400, "application/json"),
        "pushed_authorization_request_endpoint": ("POST", 400, "application/json"),
    }
    for member, (method, status, content_type) in answers.items():
        assert meta[member].startswith(meta["issuer"] + "/"), member
        answer = requests.request(method, meta[member], data={} if method == "POST" else None, timeout=10)
        assert answer.status_code == status, (member, answer.status_code, answer.text[:200])
        assert answer.headers["content-type"].startswith(content_type), member


@checks(
    "response_types_supported",
    "response_modes_supported",
    "code_challenge_methods_supported",
    "authorization_response_iss_parameter_supported",
)
def test_response_types_modes_pkce_and_iss(gateway, meta):
    client = gateway.register_client()
    for response_type in meta["response_types_supported"]:
        if response_type != "code":  # the code below is the authorization code flow
            unknown("response_types_supported", response_type)
    for mode in meta["response_modes_supported"]:
        browser = gateway.browser(gateway.new_resident())
        url = authorize_url(meta, authorization(client[0], response_mode=mode, state="st"))
        if mode == "query":
            answer = query_of(follow_to_callback(browser, url))
        elif mode == "form_post":
            page = browser.get(url, allow_redirects=False, timeout=10)  # nothing to consent to
            assert page.status_code == 200 and f'action="{REDIRECT_URI}"' in page.text
            answer = form_fields(page.text)
        else:
            unknown("response_modes_supported", mode)
        assert answer["code"] and answer["state"] == "st"
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert answer["iss"] == meta["issuer"]  # RFC 9207
    for method in meta["code_challenge_methods_supported"]:
        assert method == "S256" or unknown("code_challenge_methods_supported", method)
        code = code_for(gateway, meta, authorization(client[0]))
        wrong = {**code_exchange(code), "code_verifier": "x" * 50}
        assert requests.post(meta["token_endpoint"], data=wrong, auth=client, timeout=10).status_code == 400
    plain = authorization(client[0], code_challenge=PKCE_VERIFIER, code_challenge_method="plain")
    refused = gateway.browser(gateway.new_resident()).get(
        authorize_url(meta, plain), allow_redirects=False, timeout=10
    )
    assert query_of(refused.headers["location"])["error"] == "invalid_request"  # not advertised


@checks(
    "grant_types_supported",
    "backchannel_token_delivery_modes_supported",
    "backchannel_user_code_parameter_supported",
)
def test_every_grant_type_and_ciba_delivery_mode(gateway, meta, resident_with_phone):  # noqa: F811
    account_id, phone = resident_with_phone
    client = gateway.register_client(allowed_scopes=("openid", "ledger:department"))
    tokens = secret_tokens(gateway, meta, client)
    by_grant = {
        "authorization_code": lambda: tokens["id_token"],
        "refresh_token": lambda: requests.post(
            meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=client,
            timeout=10,
        ).json()["access_token"],
        "client_credentials": lambda: requests.post(
            meta["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": "ledger:department"},
            auth=client,
            timeout=10,
        ).json()["access_token"],
        CIBA: lambda: ciba_modes(gateway, meta, account_id, phone),
    }
    for grant in meta["grant_types_supported"]:
        if grant not in by_grant:
            unknown("grant_types_supported", grant)
        assert by_grant[grant](), grant


def ciba_modes(gateway: Gateway, meta: dict[str, Any], account_id: str, phone: Any) -> bool:
    """Each advertised delivery mode, registered over the admin API: the resident approves in
    the app; a poll gets the tokens, a ping arrives first. No user_code is asked for."""
    assert meta["backchannel_user_code_parameter_supported"] is False
    endpoint = PingEndpoint()
    try:
        for mode in meta["backchannel_token_delivery_modes_supported"]:
            if mode not in ("poll", "ping"):
                unknown("backchannel_token_delivery_modes_supported", mode)
            body = {
                "client_name": "Labour Department",
                "department": "LD",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", CIBA],
                "backchannel_token_delivery_mode": mode,
            }
            if mode == "ping":
                body["backchannel_client_notification_endpoint"] = endpoint.url
            registered = requests.post(
                f"{gateway.base_url}/admin/clients",
                json=body,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=10,
            ).json()
            client = (registered["client_id"], registered["client_secret"])
            sub = verified(
                meta,
                secret_tokens(gateway, meta, client, gateway.browser(account_id))["id_token"],
                audience=client[0],
            )["sub"]
            asked = {"scope": "openid", "login_hint": sub}
            if mode == "ping":
                asked["client_notification_token"] = "dept-bearer-" + secrets.token_hex(4)
            started = requests.post(
                meta["backchannel_authentication_endpoint"], data=asked, auth=client, timeout=10
            )
            assert started.status_code == 200, started.text
            [pending] = phone.pending()
            phone.approve(pending["request_id"], pending["code"])
            if mode == "ping":
                assert (
                    endpoint.arrived.wait(5)
                    and endpoint.pings[-1][0] == f"Bearer {asked['client_notification_token']}"
                )
            polled = requests.post(
                meta["token_endpoint"],
                data={"grant_type": CIBA, "auth_req_id": started.json()["auth_req_id"]},
                auth=client,
                timeout=10,
            )
            assert polled.status_code == 200 and polled.json()["id_token"], (mode, polled.text)
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
    return True


@checks("token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported")
def test_every_client_authentication_at_the_token_endpoint(gateway, meta, keys):
    url = meta["token_endpoint"]
    grant = {"grant_type": "client_credentials", "scope": "ledger:department"}
    scopes = {"allowed_scopes": ("openid", "ledger:department")}
    for method in meta["token_endpoint_auth_methods_supported"]:
        if method in ("client_secret_basic", "client_secret_post"):
            client_id, secret = gateway.register_client(token_endpoint_auth_method=method, **scopes)
            if method == "client_secret_basic":
                answer = requests.post(url, data=grant, auth=(client_id, secret), timeout=10)
            else:
                answer = requests.post(
                    url, data={**grant, "client_id": client_id, "client_secret": secret}, timeout=10
                )
            assert answer.status_code == 200, (method, answer.text)
        elif method == "private_key_jwt":
            client_id = keyed_client(gateway, keys, **scopes)
            for alg in meta["token_endpoint_auth_signing_alg_values_supported"]:
                answer = requests.post(url, data={**grant, **keys.assertion(client_id, url, alg)}, timeout=10)
                assert answer.status_code == 200, (alg, answer.text)
        elif method == "none":
            client_id, _ = gateway.register_client(
                token_endpoint_auth_method="none", grant_types=("authorization_code",)
            )
            code = code_for(gateway, meta, authorization(client_id))
            answer = requests.post(url, data={**code_exchange(code), "client_id": client_id}, timeout=10)
            assert answer.status_code == 200 and answer.json()["id_token"], answer.text
        else:
            unknown("token_endpoint_auth_methods_supported", method)


def authenticated_at(
    gateway, meta, keys, endpoint: str, method: str, alg: str | None = None
) -> requests.Response:
    """A request to the revocation or introspection endpoint about a fresh token of the
    client, authenticated by ``method``."""
    url = meta[f"{endpoint}_endpoint"]
    if method == "none":
        client_id, _ = gateway.register_client(
            token_endpoint_auth_method="none", grant_types=("authorization_code", "refresh_token")
        )
        code = code_for(gateway, meta, authorization(client_id))
        token = requests.post(
            meta["token_endpoint"], data={**code_exchange(code), "client_id": client_id}, timeout=10
        ).json()
        return requests.post(url, data={"token": token["refresh_token"], "client_id": client_id}, timeout=10)
    if method == "private_key_jwt":
        client_id = keyed_client(gateway, keys, allowed_scopes=("openid", "ledger:department"))
        issued = requests.post(
            meta["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "scope": "ledger:department",
                **keys.assertion(client_id, meta["issuer"], "ES256"),
            },
            timeout=10,
        ).json()
        return requests.post(
            url,
            data={"token": issued["access_token"], **keys.assertion(client_id, url, alg or "ES256")},
            timeout=10,
        )
    if method not in ("client_secret_basic", "client_secret_post"):
        unknown(f"{endpoint}_endpoint_auth_methods_supported", method)
    client = gateway.register_client(
        token_endpoint_auth_method=method, allowed_scopes=("openid", "ledger:department")
    )
    issued = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "ledger:department"},
        auth=client,
        timeout=10,
    ).json()
    if method == "client_secret_basic":
        return requests.post(url, data={"token": issued["access_token"]}, auth=client, timeout=10)
    return requests.post(
        url,
        data={"token": issued["access_token"], "client_id": client[0], "client_secret": client[1]},
        timeout=10,
    )


@checks("revocation_endpoint_auth_methods_supported", "revocation_endpoint_auth_signing_alg_values_supported")
def test_every_client_authentication_at_the_revocation_endpoint(gateway, meta, keys):
    for method in meta["revocation_endpoint_auth_methods_supported"]:
        assert authenticated_at(gateway, meta, keys, "revocation", method).status_code == 200, method
    for alg in meta["revocation_endpoint_auth_signing_alg_values_supported"]:
        assert (
            authenticated_at(gateway, meta, keys, "revocation", "private_key_jwt", alg).status_code == 200
        ), alg


@checks(
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
)
def test_every_client_authentication_at_the_introspection_endpoint(gateway, meta, keys):
    for method in meta["introspection_endpoint_auth_methods_supported"]:
        answer = authenticated_at(gateway, meta, keys, "introspection", method)
        assert answer.status_code == 200 and answer.json()["active"] is True, (method, answer.text)
    for alg in meta["introspection_endpoint_auth_signing_alg_values_supported"]:
        answer = authenticated_at(gateway, meta, keys, "introspection", "private_key_jwt", alg)
        assert answer.json()["active"] is True, alg
    public, _ = gateway.register_client(
        token_endpoint_auth_method="none", grant_types=("authorization_code",)
    )
    refused = requests.post(
        meta["introspection_endpoint"], data={"token": "x", "client_id": public}, timeout=10
    )
    assert refused.json()["error"] == "invalid_client"  # "none" is not advertised here


@checks("subject_types_supported")
def test_every_subject_type(gateway, meta):
    account_id = gateway.new_resident()
    for subject_type in meta["subject_types_supported"]:
        subs = []
        for department in ("ONE", "TWO"):  # the sector is the department (OIDC Core §8.1)
            uri = f"https://{department.lower()}.example.gov.hk/callback"
            client = gateway.register_client(
                subject_type=subject_type, department=department, redirect_uris=[uri]
            )
            params = {**authorization(client[0]), "redirect_uri": uri}
            callback = follow_to_callback(gateway.browser(account_id), authorize_url(meta, params))
            answer = requests.post(
                meta["token_endpoint"],
                data={**code_exchange(query_of(callback)["code"]), "redirect_uri": uri},
                auth=client,
                timeout=10,
            ).json()
            subs.append(verified(meta, answer["id_token"], audience=client[0])["sub"])
        if subject_type == "public":
            assert subs == [account_id, account_id]
        elif subject_type == "pairwise":
            assert subs[0] != subs[1] and account_id not in subs
        else:
            unknown("subject_types_supported", subject_type)


@checks("id_token_signing_alg_values_supported", "access_token_signing_alg_values_supported")
def test_every_token_signing_algorithm(gateway, meta):
    for alg in meta["id_token_signing_alg_values_supported"]:
        client = gateway.register_client(id_token_signed_response_alg=alg)
        tokens = secret_tokens(gateway, meta, client)
        assert jwt.get_unverified_header(tokens["id_token"])["alg"] == alg
        verified(meta, tokens["id_token"], audience=client[0], issuer=meta["issuer"])
    for alg in meta["access_token_signing_alg_values_supported"]:
        assert jwt.get_unverified_header(tokens["access_token"])["alg"] == alg
        verified(meta, tokens["access_token"], audience=meta["issuer"], issuer=meta["issuer"])


@checks("scopes_supported")
def test_every_scope(gateway, meta):
    """Each scope is registrable and granted: the resident's scopes release their claims; the
    gateway's API scopes are granted to whom they are for (role-bound ones to the role)."""
    resident_scopes = {
        "profile": "name",
        "email": "email",
        "phone": "phone_number",
        "address": "address",
        "hkid": "hkid_number",
    }
    client = gateway.register_client(
        allowed_scopes=tuple(s for s in meta["scopes_supported"] if ":" not in s)
    )
    asked = " ".join(s for s in meta["scopes_supported"] if ":" not in s)
    tokens = secret_tokens(gateway, meta, client, scope=asked)
    released = userinfo(meta, tokens["access_token"])
    for scope in meta["scopes_supported"]:
        if scope == "openid":
            assert tokens["id_token"]
        elif scope in resident_scopes:
            assert resident_scopes[scope] in released, scope
        elif scope == "offline_access":
            assert "offline_access" in tokens["scope"].split() and tokens["refresh_token"]
        elif scope in ("ledger:department", "forms:department", "ledger:audit"):
            department = gateway.register_client(
                grant_types=("client_credentials",),
                redirect_uris=[],
                allowed_scopes=(scope,),
                audit_system=scope == "ledger:audit",
            )
            granted = requests.post(
                meta["token_endpoint"],
                data={"grant_type": "client_credentials", "scope": scope},
                auth=department,
                timeout=10,
            ).json()
            assert granted["scope"] == scope, granted
        elif scope == "signing":
            # The signing API takes the department's own credentials; the scope decides.
            signing_url = meta["issuer"] + "/signing/requests"
            without = gateway.register_client(grant_types=("client_credentials",), redirect_uris=[])
            with_scope = gateway.register_client(
                grant_types=("client_credentials",), redirect_uris=[], allowed_scopes=(scope,)
            )
            body = {
                "login_hint": "an-unknown-subject",
                "document_sha256": "0" * 64,
                "summary_en": "Discovery walk",
                "summary_zh": "探索文件檢查",
            }
            refused = requests.post(signing_url, json=body, auth=without, timeout=10)
            taken = requests.post(signing_url, json=body, auth=with_scope, timeout=10)
            assert refused.status_code == 403, refused.text
            assert taken.status_code not in (401, 403) and taken.status_code < 500, taken.text
        elif scope in ("ledger:resident", "app:device"):
            person = gateway.register_client(allowed_scopes=("openid", scope))
            granted = secret_tokens(gateway, meta, person, scope=f"openid {scope}")
            assert scope in granted["scope"].split()
        else:
            unknown("scopes_supported", scope)


@checks("claims_supported", "claims_parameter_supported", "claims_locales_supported")
def test_every_claim_and_the_claims_parameter(gateway, meta):
    assert meta["claims_parameter_supported"] is True
    client = gateway.register_client()
    wanted = {"id_token": {"email": None, "name#zh-HK": None}}
    tokens = secret_tokens(
        gateway, meta, client, scope="openid profile email phone address hkid", claims=json.dumps(wanted)
    )
    id_token = verified(meta, tokens["id_token"], audience=client[0])
    assert id_token["email"] and id_token["name#zh-HK"] == "陳大文"  # asked by the claims parameter
    released = {**id_token, **userinfo(meta, tokens["access_token"])}
    for locale in meta["claims_locales_supported"]:
        name = {"en": "name", "zh-HK": "name#zh-HK"}.get(locale) or unknown(
            "claims_locales_supported", locale
        )
        assert released[name], locale
    for claim in meta["claims_supported"]:
        if claim != "verified_claims":  # test_identity_assurance_elements
            assert claim in released, claim


@checks(
    "verified_claims_supported",
    "trust_frameworks_supported",
    "evidence_supported",
    "documents_supported",
    "documents_check_methods_supported",
    "claims_in_verified_claims_supported",
)
def test_identity_assurance_elements(gateway, meta):
    assert meta["verified_claims_supported"] is True
    client = gateway.register_client()
    keyring = build_keyring(gateway.runtime.master_key, gateway.runtime.settings.field_key_generation)
    request = {  # every element of the verification, every claim that may be verified
        **VERIFIED_IDENTITY,
        "claims": {claim: None for claim in meta["claims_in_verified_claims_supported"]},
    }
    seen_methods = set()
    for level in ("remote", "in_person"):
        account_id = gateway.new_resident()
        for db in session_scope(gateway.runtime.sessions):
            proof(db, keyring, db.get(Account, account_id), gateway.runtime.clock(), level=level)
        tokens = secret_tokens(
            gateway,
            meta,
            client,
            gateway.browser(account_id),
            scope="openid profile hkid",
            claims=json.dumps({"userinfo": {"verified_claims": request}}),
        )
        element = userinfo(meta, tokens["access_token"])["verified_claims"]
        verification = element["verification"]
        assert verification["trust_framework"] in meta["trust_frameworks_supported"]
        [evidence] = verification["evidence"]
        assert evidence["type"] in meta["evidence_supported"]
        assert evidence["document_details"]["type"] in meta["documents_supported"]
        seen_methods.update(check["check_method"] for check in evidence["check_details"])
        assert set(element["claims"]) == set(meta["claims_in_verified_claims_supported"])
    assert seen_methods == set(meta["documents_check_methods_supported"])


@checks(
    "request_parameter_supported",
    "request_object_signing_alg_values_supported",
    "require_signed_request_object",
    "request_uri_parameter_supported",
)
def test_request_objects_in_every_algorithm(gateway, meta, keys):
    client_id = keyed_client(gateway, keys)
    assert meta["request_parameter_supported"] is True
    for alg in meta["request_object_signing_alg_values_supported"]:
        now = int(time.time())
        claims = {
            **authorization(client_id, state=alg),
            "iss": client_id,
            "aud": meta["issuer"],
            "iat": now,
            "exp": now + 120,
        }
        request_object = keys.sign(claims, alg, typ="oauth-authz-req+jwt")
        callback = follow_to_callback(
            gateway.browser(gateway.new_resident()),
            authorize_url(meta, {"client_id": client_id, "request": request_object}),
        )
        assert query_of(callback)["state"] == alg and query_of(callback)["code"]
    assert meta["require_signed_request_object"] is False  # a plain request is taken
    assert code_for(gateway, meta, authorization(client_id))
    assert meta["request_uri_parameter_supported"] is False  # only PAR's own request_uri
    elsewhere = {"client_id": client_id, "request_uri": "https://dept.example.gov.hk/request.jwt"}
    refused = gateway.browser(gateway.new_resident()).get(
        authorize_url(meta, elsewhere), allow_redirects=False, timeout=10
    )
    assert refused.status_code == 400 and "request_uri_not_supported" in refused.text


@checks("require_pushed_authorization_requests")
def test_pushed_requests_and_the_servers_requirement(gateway, meta, keys):
    client_id = keyed_client(gateway, keys)
    settings = gateway.runtime.settings

    def push() -> str:
        url = meta["pushed_authorization_request_endpoint"]
        pushed = requests.post(
            url, data={**authorization(client_id), **keys.assertion(client_id, url, "ES256")}, timeout=10
        )
        assert pushed.status_code == 201, pushed.text
        return pushed.json()["request_uri"]

    assert meta["require_pushed_authorization_requests"] is False
    assert code_for(gateway, meta, authorization(client_id))  # a plain request is taken
    assert code_for(gateway, meta, {"client_id": client_id, "request_uri": push()})
    settings.require_par = True
    try:
        assert gateway.discovery()["require_pushed_authorization_requests"] is True
        plain = gateway.browser(gateway.new_resident()).get(
            authorize_url(meta, authorization(client_id)), allow_redirects=False, timeout=10
        )
        assert plain.status_code == 400 and "must push" in plain.text
        assert code_for(gateway, meta, {"client_id": client_id, "request_uri": push()})
    finally:
        settings.require_par = False


@checks("dpop_signing_alg_values_supported")
def test_dpop_proofs_in_every_algorithm(gateway, meta, keys):
    url = meta["token_endpoint"]
    client = gateway.register_client(allowed_scopes=("openid", "ledger:department"))
    grant = {"grant_type": "client_credentials", "scope": "ledger:department"}
    for alg in meta["dpop_signing_alg_values_supported"]:
        first = requests.post(
            url, data=grant, auth=client, headers={"DPoP": keys.dpop_proof(alg, url)}, timeout=10
        )
        nonce = first.headers.get("DPoP-Nonce")  # RFC 9449 §8: the server's nonce, when it wants one
        proof = keys.dpop_proof(alg, url, nonce)
        answer = requests.post(url, data=grant, auth=client, headers={"DPoP": proof}, timeout=10)
        assert answer.status_code == 200 and answer.json()["token_type"] == "DPoP", (alg, answer.text)
        assert jwt.decode(answer.json()["access_token"], options={"verify_signature": False})["cnf"]["jkt"]


@checks("acr_values_supported")
def test_every_acr_value(gateway, meta):
    client = gateway.register_client()
    amr = {ACR_BASIC: (AMR_PASSWORD,), ACR_MFA: (AMR_PASSWORD, AMR_OTP), ACR_DEVICE: (AMR_SOFTWARE_KEY,)}
    for acr in meta["acr_values_supported"]:
        if acr not in amr:
            unknown("acr_values_supported", acr)
        browser = gateway.browser(gateway.new_resident(), acr=acr, amr=amr[acr])
        tokens = secret_tokens(gateway, meta, client, browser, acr_values=acr)
        assert verified(meta, tokens["id_token"], audience=client[0])["acr"] == acr
        if acr != ACR_BASIC:  # a weaker sign-in gets no code for it
            weaker = gateway.browser(gateway.new_resident()).get(
                authorize_url(meta, authorization(client[0], acr_values=acr)),
                allow_redirects=False,
                timeout=10,
            )
            assert "code=" not in weaker.headers.get("location", ""), acr


@checks("prompt_values_supported")
def test_every_prompt_value(gateway, meta):
    client = gateway.register_client()
    account_id = gateway.new_resident()
    scope = "openid profile"
    secret_tokens(gateway, meta, client, gateway.browser(account_id), scope=scope)  # consent remembered
    for prompt in meta["prompt_values_supported"]:
        url = authorize_url(meta, authorization(client[0], prompt=prompt, scope=scope))
        if prompt == "none":
            answer = requests.get(url, allow_redirects=False, timeout=10)
            assert query_of(answer.headers["location"])["error"] == "login_required"
        elif prompt in ("login", "select_account"):
            answer = gateway.browser(account_id).get(url, allow_redirects=False, timeout=10)
            location = urlsplit(answer.headers["location"])
            assert location.path == "/signin" and f"prompt={prompt}" in location.query, prompt
        elif prompt == "consent":
            answer = gateway.browser(account_id).get(url, allow_redirects=False, timeout=10)
            assert answer.status_code == 200 and 'name="decision"' in answer.text
        else:
            unknown("prompt_values_supported", prompt)


@checks("ui_locales_supported")
def test_every_ui_locale(gateway, meta):
    client = gateway.register_client()
    html_lang = {"en": 'lang="en"', "zh-HK": 'lang="zh-Hant-HK"'}
    for locale in meta["ui_locales_supported"]:
        if locale not in html_lang:
            unknown("ui_locales_supported", locale)
        page = requests.get(authorize_url(meta, authorization(client[0], ui_locales=locale)), timeout=10)
        assert urlsplit(page.url).path == "/signin" and f"<html {html_lang[locale]}>" in page.text, locale


@pytest.fixture
def receiver(gateway: Gateway) -> Iterator[LogoutReceiver]:
    receiver = LogoutReceiver(gateway.base_url, f"{gateway.base_url}/jwks")
    yield receiver
    receiver.stop()


@checks("backchannel_logout_supported", "backchannel_logout_session_supported")
def test_back_channel_logout_with_the_session(gateway, meta, receiver):
    assert (
        meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True
    )
    client = gateway.register_client(
        backchannel_logout_uri=receiver.url, backchannel_logout_session_required=True
    )
    receiver.audience = client[0]
    browser = gateway.browser(gateway.new_resident())
    id_token = verified(meta, secret_tokens(gateway, meta, client, browser)["id_token"], audience=client[0])
    csrf = form_fields(browser.get(f"{gateway.base_url}/account", timeout=10).text)["csrf_token"]
    browser.post(f"{gateway.base_url}/signout", data={"csrf_token": csrf}, timeout=10)
    [logout] = receiver.wait_for(1)
    assert logout["sid"] == id_token["sid"] and logout["sub"] == id_token["sub"]
