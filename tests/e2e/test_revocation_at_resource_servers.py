"""Issue 12, item 7: a revoked access token stops working at the deployment's own resource
servers (the consent API and the forms hub's department API) within seconds, not at the end
of its lifetime; whether it was revoked at /revoke, by a code replay or by refresh reuse."""

from __future__ import annotations

import time

import requests

from tests.e2e.oidc_client import Department, query_of
from tests.e2e.test_oidc_code_flow import department
from tests.e2e.test_oidc_tokens import code_for, post_token

RESIDENT_SCOPE = "openid ledger:resident"


def resident_department(gateway) -> Department:
    """A public-subject client, so its tokens' ``sub`` is the resident the consent API knows;
    it may also use client_credentials for the forms hub's department API."""
    return department(
        gateway,
        subject_type="public",
        allowed_scopes=("openid", "ledger:resident", "forms:department"),
    )


def ledger_status(gateway, token: str) -> requests.Response:
    return requests.get(
        f"{gateway.base_url}/consent/ledger/me/entries",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def forms_status(gateway, token: str) -> requests.Response:
    return requests.get(
        f"{gateway.base_url}/forms/api/department/submissions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def assert_refused_within_seconds(gateway, token: str) -> None:
    """Both resource servers answer 401 invalid_token; the cache of not-revoked answers is
    a few seconds at most, so poll a little past it."""
    deadline = time.monotonic() + gateway.runtime.settings.revocation_cache_seconds + 3
    while True:
        ledger, forms = ledger_status(gateway, token), forms_status(gateway, token)
        if (ledger.status_code, forms.status_code) == (401, 401) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for response in (ledger, forms):
        assert response.status_code == 401, (response.status_code, response.text)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def resident_tokens(gateway, dept: Department) -> tuple[dict, str, object]:
    oauth, callback = code_for(gateway, dept, scope=RESIDENT_SCOPE)
    tokens = dept.exchange(oauth, callback)
    # Accepted before: the ledger answers, the forms hub verifies it and only lacks the scope.
    assert ledger_status(gateway, tokens["access_token"]).status_code == 200
    assert forms_status(gateway, tokens["access_token"]).status_code == 403
    return tokens, callback, oauth


def test_a_token_revoked_at_the_revocation_endpoint_is_refused(gateway):
    dept = resident_department(gateway)
    tokens, _, _ = resident_tokens(gateway, dept)
    revoked = requests.post(
        dept.metadata["revocation_endpoint"],
        data={"token": tokens["access_token"]},
        auth=(dept.client_id, dept.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    assert_refused_within_seconds(gateway, tokens["access_token"])


def test_a_revoked_department_token_is_refused_by_the_forms_hub(gateway):
    dept = resident_department(gateway)
    issued = post_token(dept, {"grant_type": "client_credentials", "scope": "forms:department"})
    token = issued.json()["access_token"]
    assert forms_status(gateway, token).status_code == 200
    revoked = requests.post(
        dept.metadata["revocation_endpoint"],
        data={"token": token},
        auth=(dept.client_id, dept.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    assert_refused_within_seconds(gateway, token)


def test_tokens_revoked_by_a_code_replay_are_refused(gateway):
    dept = resident_department(gateway)
    tokens, callback, oauth = resident_tokens(gateway, dept)
    replay = post_token(
        dept,
        {
            "grant_type": "authorization_code",
            "code": query_of(callback)["code"],
            "redirect_uri": dept.redirect_uri,
            "code_verifier": oauth._code_verifier,
        },
    )
    assert replay.json()["error"] == "invalid_grant"
    assert_refused_within_seconds(gateway, tokens["access_token"])


def test_tokens_revoked_by_refresh_reuse_are_refused(gateway):
    dept = resident_department(gateway)
    first, _, _ = resident_tokens(gateway, dept)
    second = post_token(dept, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    assert ledger_status(gateway, second["access_token"]).status_code == 200
    grace = gateway.runtime.settings.refresh_reuse_grace_seconds
    with gateway.runtime.clock.shifted(seconds=grace + 5):
        stolen = post_token(dept, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert stolen.json()["error"] == "invalid_grant"
        assert_refused_within_seconds(gateway, second["access_token"])
