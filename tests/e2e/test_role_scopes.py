"""Scopes that act as a role grant nothing to a holder without the role (issue 12, item 1),
attacked over real HTTP: a resident or an officer signing in through a client registered
with ``ledger:audit`` reads no audit data; only an auditor account, or a client registered
as an audit system (client_credentials), does. The same for ``forms:department``: a
person's token never works a department's forms queue or its form definitions."""

from __future__ import annotations

import secrets

import pytest
import requests
from jose import jwt as jose_jwt

import tests.e2e.test_oidc_code_flow as code_flow
from identity.accounts.service import create_staff
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit.db import session_scope
from tests.e2e.conftest import ADMIN_TOKEN

AUDIT_PATHS = ("/consent/ledger/audit/entries", "/consent/ledger/audit/access-log")
FORMS_STAFF_PATHS = ("/forms/api/department/submissions", "/forms/api/admin/definitions")


@pytest.fixture(autouse=True)
def narrowed_scopes_are_no_error(monkeypatch):
    """The provider grants fewer scopes than asked (RFC 6749 §3.3); oauthlib would raise."""
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


STAFF_PASSWORD = "correct horse battery staple"


def new_staff(gateway, roles: list[str], department: str = "TD", username: str | None = None) -> str:
    runtime = gateway.runtime
    for db in session_scope(runtime.sessions):
        account = create_staff(
            db,
            build_keyring(runtime.master_key, runtime.settings.field_key_generation),
            hasher_for(runtime.settings),
            username=username or f"staff-{secrets.token_hex(4)}",
            password=STAFF_PASSWORD,
            department=department,
            roles=roles,
            name="WONG Ka Ming",
            now=runtime.clock(),
        )
        account_id = account.id
    return account_id


def person_token(gateway, account_id: str, scope: str, **registration) -> str:
    """An access token from the authorization code flow, as a department's portal gets it."""
    fields = {"allowed_scopes": ("openid", *scope.split()), **registration}
    dept = code_flow.department(gateway, **fields)
    tokens, _, _ = code_flow.sign_in_and_get_tokens(gateway, dept, account_id, scope=f"openid {scope}")
    return tokens["access_token"]


def credentials_token(gateway, scope: str, **registration) -> requests.Response:
    fields = {
        "department": "AUDIT",
        "allowed_scopes": tuple(scope.split()),
        "grant_types": ("client_credentials",),
        "redirect_uris": [],
        **registration,
    }
    client_id, secret = gateway.register_client(**fields)
    return requests.post(
        f"{gateway.base_url}/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
        timeout=10,
    )


def get(gateway, path: str, token: str) -> requests.Response:
    return requests.get(gateway.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_refused(gateway, token: str, paths: tuple[str, ...] = AUDIT_PATHS) -> None:
    for path in paths:
        response = get(gateway, path, token)
        assert response.status_code == 403, (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge


def scopes_of(token: str) -> set[str]:
    return set(jose_jwt.get_unverified_claims(token)["scope"].split())


def test_a_resident_signed_in_through_an_audit_client_reads_no_audit_data(gateway):
    token = person_token(gateway, gateway.new_resident(), "ledger:audit")
    assert "roles" not in jose_jwt.get_unverified_claims(token)
    assert_refused(gateway, token)


def test_an_officer_signed_in_through_an_audit_client_reads_no_audit_data(gateway):
    token = person_token(gateway, new_staff(gateway, ["officer"]), "ledger:audit")
    assert_refused(gateway, token)


def test_an_auditor_account_reads_both_audit_endpoints(gateway):
    token = person_token(gateway, new_staff(gateway, ["auditor"], department="AUDIT"), "ledger:audit")
    claims = jose_jwt.get_unverified_claims(token)
    assert claims["roles"] == ["auditor"] and "ledger:audit" in claims["scope"].split()
    for path in AUDIT_PATHS:
        assert get(gateway, path, token).status_code == 200, path


def test_a_client_not_registered_for_a_scope_does_not_get_it(gateway):
    """The token carries only scopes the client registered (RFC 6749 §3.3), in either grant."""
    asked = credentials_token(gateway, "ledger:audit", allowed_scopes=("ledger:department",))
    if asked.status_code == 200:
        assert "ledger:audit" not in scopes_of(asked.json()["access_token"])
        assert_refused(gateway, asked.json()["access_token"])
    else:
        assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"
    auditor = new_staff(gateway, ["auditor"], department="AUDIT")
    token = person_token(gateway, auditor, "ledger:audit", allowed_scopes=("openid", "profile"))
    assert "ledger:audit" not in scopes_of(token)
    assert_refused(gateway, token)


def test_client_credentials_of_a_client_that_is_no_audit_system_get_no_audit_access(gateway):
    response = credentials_token(gateway, "ledger:audit")
    if response.status_code == 200:
        token = response.json()["access_token"]
        assert "ledger:audit" not in scopes_of(token)
        assert_refused(gateway, token)
    else:
        assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_an_audit_system_client_reads_both_audit_endpoints(gateway):
    response = credentials_token(gateway, "ledger:audit", audit_system=True)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert jose_jwt.get_unverified_claims(token)["roles"] == ["auditor"]
    for path in AUDIT_PATHS:
        assert get(gateway, path, token).status_code == 200, path


def test_the_admin_api_registers_an_audit_system(gateway):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    body = {"client_name": "Audit Commission", "department": "AUD", "grant_types": ["client_credentials"]}
    created = requests.post(
        f"{gateway.base_url}/admin/clients",
        json={**body, "scope": "ledger:audit", "audit_system": True},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["audit_system"] is True
    token = requests.post(
        f"{gateway.base_url}/token",
        data={"grant_type": "client_credentials", "scope": "ledger:audit"},
        auth=(created.json()["client_id"], created.json()["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    assert get(gateway, AUDIT_PATHS[0], token).status_code == 200


def test_a_persons_forms_department_token_works_no_queue_and_no_definitions(gateway):
    for account_id in (gateway.new_resident(), new_staff(gateway, ["officer"])):
        token = person_token(gateway, account_id, "forms:department", department="TD")
        for path in FORMS_STAFF_PATHS:
            response = get(gateway, path, token)
            assert response.status_code == 403, (path, response.text[:300])
            assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
