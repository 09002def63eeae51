"""Identity assurance as a department sees it, over real HTTP: Authlib's client
(authlib.integrations.requests_client) for the protocol and PyJWT against the published JWKS
for the tokens; nothing on the department's side is the provider's code. The resident's
browser is a requests session following the pages' forms."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from egate.maintenance import run_maintenance
from identity.accounts.models import Account
from identity.assurance import IAL_IN_PERSON, IAL_REMOTE
from identity.security.keyring import build_keyring
from identity.tokens.models import AuthorizationCode, IssuedToken
from kit.db import session_scope
from tests.e2e.conftest import REDIRECT_URI, form_fields
from tests.e2e.oidc_client import follow_to_callback, query_of
from tests.identity.oidc.factories import CHECKED, proof

VERIFIED_IDENTITY = {
    "verification": {
        "trust_framework": {"value": "hk_egate"},
        "assurance_level": {"values": [IAL_REMOTE, IAL_IN_PERSON]},
        "time": None,
        "evidence": [
            {
                "type": {"value": "document"},
                "check_details": [{"check_method": None, "organization": None}],
                "document_details": {"type": None},
            }
        ],
    },
    "claims": {"name": {"essential": True}, "birthdate": None, "hkid_number": None},
}


class Department:
    def __init__(self, gateway, scope: str = "openid", **registration: Any) -> None:
        """``scope``: what the request asks by scope; the client is registered for
        ``openid profile email phone address hkid`` (tests/e2e/conftest.py)."""
        self.client_id, self.secret = gateway.register_client(**registration)
        self.meta = requests.get(f"{gateway.base_url}/.well-known/openid-configuration", timeout=10).json()
        self.oauth = OAuth2Session(
            self.client_id,
            self.secret,
            scope=scope,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )
        self.verifier = generate_token(48)
        self.nonce = secrets.token_urlsafe(12)
        self.state = ""

    def authorization_url(self, claims: dict[str, Any] | None = None, **extra: str) -> str:
        if claims is not None:
            extra["claims"] = json.dumps(claims)
        url, self.state = self.oauth.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce, **extra
        )
        return url

    def tokens(self, callback: str) -> dict[str, Any]:
        assert query_of(callback)["iss"] == self.meta["issuer"]  # RFC 9207, before the code is used
        return dict(
            self.oauth.fetch_token(
                self.meta["token_endpoint"], authorization_response=callback, code_verifier=self.verifier
            )
        )

    def verified_id_token(self, tokens: dict[str, Any]) -> dict[str, Any]:
        id_token = tokens["id_token"]
        key = jwt.PyJWKClient(self.meta["jwks_uri"]).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=self.meta["id_token_signing_alg_values_supported"],
            audience=self.client_id,
            issuer=self.meta["issuer"],
        )
        assert claims["nonce"] == self.nonce
        return claims

    def verified_access_token(self, tokens: dict[str, Any]) -> dict[str, Any]:
        access = tokens["access_token"]
        key = jwt.PyJWKClient(self.meta["jwks_uri"]).get_signing_key_from_jwt(access)
        return jwt.decode(
            access, key.key, algorithms=["ES256"], audience=self.meta["issuer"], issuer=self.meta["issuer"]
        )

    def userinfo(self) -> dict[str, Any]:
        response = self.oauth.get(self.meta["userinfo_endpoint"], timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())


def resident(gateway, level: str | None) -> str:
    account_id = gateway.new_resident()
    if level is not None:
        runtime = gateway.runtime
        keyring = build_keyring(runtime.master_key, runtime.settings.field_key_generation)
        for db in session_scope(runtime.sessions):
            proof(db, keyring, db.get(Account, account_id), runtime.clock(), level=level)
    return account_id


def test_discovery_lists_identity_assurance(gateway):
    meta = requests.get(f"{gateway.base_url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["verified_claims_supported"] is True and meta["claims_parameter_supported"] is True
    assert meta["trust_frameworks_supported"] == ["hk_egate"] and meta["evidence_supported"] == ["document"]
    assert meta["documents_supported"] == ["idcard"] and "vpip" in meta["documents_check_methods_supported"]
    assert {"name", "birthdate", "hkid_number"} <= set(meta["claims_in_verified_claims_supported"])


def test_an_in_person_proofed_resident_releases_verified_claims(gateway):
    dept = Department(gateway)
    browser = gateway.browser(resident(gateway, IAL_IN_PERSON))
    url = dept.authorization_url(
        {
            "id_token": {"verified_claims": VERIFIED_IDENTITY},
            "userinfo": {"verified_claims": VERIFIED_IDENTITY},
        }
    )
    consent = browser.get(url, timeout=10)
    assert "checked against your Hong Kong identity card" in consent.text
    tokens = dept.tokens(follow_to_callback(browser, url))

    id_token = dept.verified_id_token(tokens)
    verified = id_token["verified_claims"]
    assert verified["claims"] == {k: CHECKED[k] for k in ("name", "birthdate", "hkid_number")}
    verification = verified["verification"]
    assert verification["trust_framework"] == "hk_egate" and verification["assurance_level"] == IAL_IN_PERSON
    assert verification["time"].endswith("Z")
    [evidence] = verification["evidence"]
    assert evidence["type"] == "document" and evidence["document_details"] == {"type": "idcard"}
    [check] = evidence["check_details"]
    assert check["check_method"] == "vpip" and check["organization"]
    assert "name" not in id_token  # the profile's own name was not asked for

    access = dept.verified_access_token(tokens)
    userinfo = dept.userinfo()
    assert userinfo["sub"] == id_token["sub"] == access["sub"]
    assert userinfo["verified_claims"] == verified


def test_a_self_asserted_resident_gets_no_verified_claims_even_as_essential(gateway):
    dept = Department(gateway)
    browser = gateway.browser(resident(gateway, None))
    essential = {
        "verification": {"trust_framework": None},
        "claims": {"name": {"essential": True}, "hkid_number": {"essential": True}},
    }
    url = dept.authorization_url(
        {"id_token": {"verified_claims": essential}, "userinfo": {"verified_claims": essential}}
    )
    callback = follow_to_callback(browser, url)
    assert "code" in query_of(callback)  # nothing a self-asserted resident could release was asked
    tokens = dept.tokens(callback)
    id_token = dept.verified_id_token(tokens)
    assert "verified_claims" not in id_token and "name" not in id_token
    userinfo = dept.userinfo()
    assert "verified_claims" not in userinfo and "hkid_number" not in userinfo


def test_a_self_asserted_residents_values_go_only_as_ordinary_claims(gateway):
    dept = Department(gateway, scope="openid profile")
    browser = gateway.browser(resident(gateway, None))
    both = {
        "verified_claims": {"verification": {"trust_framework": None}, "claims": {"name": None}},
        "name": None,
    }
    url = dept.authorization_url({"id_token": both, "userinfo": both})
    tokens = dept.tokens(follow_to_callback(browser, url))
    id_token = dept.verified_id_token(tokens)
    assert id_token["name"] == "CHAN Tai Man" and "verified_claims" not in id_token
    userinfo = dept.userinfo()
    assert userinfo["name"] == "CHAN Tai Man" and "verified_claims" not in userinfo


@pytest.mark.parametrize("silent", [False, True], ids=["explained", "prompt=none"])
def test_a_client_with_a_floor_refuses_a_lower_resident(gateway, silent):
    dept = Department(gateway, min_identity_level=IAL_IN_PERSON)
    browser = gateway.browser(resident(gateway, IAL_REMOTE))
    url = dept.authorization_url(**({"prompt": "none"} if silent else {}))
    response = browser.get(url, allow_redirects=False, timeout=10)
    if not silent:
        assert response.status_code == 200 and "registration counter" in response.text
        response = browser.post(
            urljoin(gateway.base_url, "/authorize/unmet"),
            data=form_fields(response.text),
            allow_redirects=False,
            timeout=10,
        )
    assert response.status_code == 302
    callback = response.headers["location"]
    assert callback.startswith(REDIRECT_URI)
    answer = query_of(callback)
    assert answer["error"] == "unmet_authentication_requirements"
    assert answer["state"] == dept.state and answer["iss"] == dept.meta["issuer"]
    assert "code" not in answer


def test_a_client_with_a_floor_accepts_a_resident_who_meets_it(gateway):
    dept = Department(gateway, min_identity_level=IAL_IN_PERSON)
    browser = gateway.browser(resident(gateway, IAL_IN_PERSON))
    tokens = dept.tokens(follow_to_callback(browser, dept.authorization_url()))
    assert dept.verified_id_token(tokens)["sub"]


def test_userinfo_keeps_releasing_verified_claims_after_housekeeping(gateway):
    """`egate maintenance` removes expired authorization codes, but not one a live token of
    its grant descends from: userinfo reads the grant's ``claims`` request from it."""
    dept = Department(gateway)
    browser = gateway.browser(resident(gateway, IAL_IN_PERSON))
    url = dept.authorization_url({"userinfo": {"verified_claims": VERIFIED_IDENTITY}})
    tokens = dept.tokens(follow_to_callback(browser, url))
    code_hash = dept_code_hash(gateway, tokens)
    runtime = gateway.runtime
    ttl = runtime.settings.authorization_code_ttl_seconds
    # Past the code's expiry, within the access token's lifetime.
    run_maintenance(runtime, now=runtime.clock() + timedelta(seconds=ttl + 60))
    assert stored_code(gateway, code_hash) is not None
    assert dept.userinfo()["verified_claims"]["claims"]["name"] == CHECKED["name"]
    # Once every token of the grant has expired, the code goes too.
    beyond = timedelta(seconds=runtime.settings.refresh_token_ttl_seconds + 60)
    assert run_maintenance(runtime, now=runtime.clock() + beyond)["idp_tokens"] >= 2
    assert stored_code(gateway, code_hash) is None


def dept_code_hash(gateway, tokens: dict[str, Any]) -> str:
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    for db in session_scope(gateway.runtime.sessions):
        row = db.get(IssuedToken, access["jti"])
        assert row is not None and row.code_hash is not None
        return row.code_hash
    raise AssertionError("no session")


def stored_code(gateway, code_hash: str) -> AuthorizationCode | None:
    for db in session_scope(gateway.runtime.sessions):
        return db.get(AuthorizationCode, code_hash)
    return None
