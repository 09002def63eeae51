"""The whole chain over real HTTP: a department signs a resident in through the provider,
the releases land in the ledger (through LedgerConsentPort as egate wires it), then the
department and an auditor read them with the provider's own access tokens — verified by
the consent service against the JWKS it fetches — and the auditor's export verifies
offline with nothing but the published key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

import tests.e2e.conftest as e2e
import tests.e2e.test_oidc_code_flow as code_flow
from consent.ledger.verifier import verify_export
from egate.app import create_app
from kit import migrations
from kit.db import create_db_engine, create_session_factory
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.support.databases import make_settings, new_database_url
from tests.support.ledger import wait_for_integration
from tests.support.live_server import free_port, start_live_server


@pytest.fixture(scope="module")
def gateway(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator:
    tmp = tmp_path_factory.mktemp(f"consent-gateway-{backend}")
    port = free_port()
    settings = make_settings(
        tmp, database_url=new_database_url(backend, request, tmp), issuer=f"http://127.0.0.1:{port}"
    )
    engine = create_db_engine(settings.effective_database_url)
    migrations.upgrade(engine)
    runtime = Runtime(settings, engine, create_session_factory(engine), load_master_key(settings))
    server = start_live_server(create_app(runtime), port)
    yield e2e.Gateway(server.base_url, runtime)
    server.stop()
    engine.dispose()


def client_token(gateway, department: str, scope: str, *, audit_system: bool = False) -> str:
    client_id, secret = gateway.register_client(
        department=department,
        allowed_scopes=(scope,),
        grant_types=("client_credentials",),
        redirect_uris=[],
        audit_system=audit_system,
    )
    response = requests.post(
        f"{gateway.base_url}/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_releases_are_in_the_ledger_and_readable_by_department_and_auditor(gateway):
    dept = code_flow.department(gateway, department="TDJOURNEY")
    account_id = gateway.new_resident()
    tokens, _, _ = code_flow.sign_in_and_get_tokens(gateway, dept, account_id)
    userinfo = requests.get(
        dept.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert userinfo.status_code == 200

    consent_api = f"{gateway.base_url}/consent"
    wait_for_integration(gateway.runtime.sessions)  # indices are compared below
    department = {"Authorization": f"Bearer {client_token(gateway, 'TDJOURNEY', 'ledger:department')}"}
    entries = requests.get(f"{consent_api}/ledger/department/entries", headers=department, timeout=10).json()
    channels = sorted(e["channel"] for e in entries["entries"])
    assert "userinfo" in channels and "id_token" in channels
    for entry in entries["entries"]:
        assert entry["recipient_client_id"] == dept.client_id and "resident_id" not in entry
        assert "sub" in entry["fields"] and entry["basis"] == "consent" and entry["grant_id"]
    [released] = [e for e in entries["entries"] if e["channel"] == "userinfo"]
    assert {"email", "name"} <= set(released["fields"])  # names only, never the values

    auditor = {"Authorization": f"Bearer {client_token(gateway, 'AUDIT', 'ledger:audit', audit_system=True)}"}
    mine = requests.get(
        f"{consent_api}/ledger/audit/entries", params={"resident_id": account_id}, headers=auditor, timeout=10
    ).json()["entries"]
    assert {e["index"] for e in mine} == {e["index"] for e in entries["entries"]}
    assert requests.post(f"{consent_api}/ledger/checkpoints", headers=auditor, timeout=10).status_code == 201
    export = requests.get(f"{consent_api}/ledger/audit/export", headers=auditor, timeout=10)
    vkey = requests.get(f"{consent_api}/ledger/public-key", timeout=10).json()["vkey"]
    report = verify_export(export.text.splitlines(), vkey)
    assert report.ok, report.first_error
    assert report.entries_checked >= len(mine)

    # A department's token is no auditor's, and no resident's.
    for path in ("/ledger/audit/entries", "/ledger/me/entries"):
        assert requests.get(consent_api + path, headers=department, timeout=10).status_code == 403
