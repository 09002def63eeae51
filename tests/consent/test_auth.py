"""Access tokens are the provider's RFC 9068 JWTs, verified locally; anything else is a
401 (or 403 for a missing scope) in problem+json with an RFC 6750 challenge."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from starlette.testclient import TestClient

from consent.app import create_app
from consent.config import ConsentConfig
from kit.access_tokens import HttpJwks
from tests.consent.conftest import (
    PROVIDER_KEY,
    access_claims,
    bearer,
    department_headers,
    new_signing_key,
    provider_jwks,
    resident_headers,
    sign_token,
)

ENDPOINT = "/ledger/me/entries"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_problem(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["instance"] == ENDPOINT
    if error:
        assert f'error="{error}"' in response.headers["www-authenticate"]
    return body


def test_a_valid_resident_token_is_accepted(api):
    response = api.get(ENDPOINT, headers=resident_headers("resident-a"))
    assert response.status_code == 200
    assert response.json() == {"entries": [], "next_before": None}


def test_no_token(api):
    assert_problem(api.get(ENDPOINT), 401, "invalid_request")
    assert_problem(api.get(ENDPOINT, headers={"Authorization": "Basic abc"}), 401, "invalid_request")


def _claims() -> dict:
    return access_claims("ledger:resident", sub="resident-a")


@pytest.mark.parametrize(
    "token",
    # Made when the test runs: a token signed at collection would expire in a long run and be
    # refused for that instead of for what the case is about.
    [
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda: _b64({"alg": "none", "typ": "at+jwt"}) + "." + _b64(_claims()) + ".", id="alg-none"
        ),
        pytest.param(
            lambda: sign_token(
                _claims(), algorithm="HS256", key=type(PROVIDER_KEY)(b"secret", PROVIDER_KEY.public_jwk)
            ),
            id="hs256",
        ),
        pytest.param(lambda: sign_token(_claims(), headers={"typ": "JWT"}), id="id-token-typ"),
        pytest.param(
            lambda: sign_token({**_claims(), "aud": ["http://testserver/forms"]}), id="other-audience"
        ),
        pytest.param(
            lambda: sign_token({**_claims(), "aud": "http://testserver"}), id="issuer-audience-only"
        ),
        pytest.param(lambda: sign_token({**_claims(), "iss": "https://evil.example"}), id="other-issuer"),
        pytest.param(lambda: sign_token({**_claims(), "exp": int(time.time()) - 5}), id="expired"),
        pytest.param(
            lambda: sign_token({**_claims(), "iat": int(time.time()) + 3600}), id="issued-in-future"
        ),
        pytest.param(lambda: sign_token({k: v for k, v in _claims().items() if k != "exp"}), id="no-exp"),
        pytest.param(lambda: sign_token({k: v for k, v in _claims().items() if k != "iss"}), id="no-iss"),
        pytest.param(lambda: sign_token({k: v for k, v in _claims().items() if k != "aud"}), id="no-aud"),
        pytest.param(lambda: sign_token({k: v for k, v in _claims().items() if k != "jti"}), id="no-jti"),
        pytest.param(
            lambda: sign_token({k: v for k, v in _claims().items() if k != "client_id"}), id="no-client-id"
        ),
        pytest.param(lambda: sign_token(_claims(), key=new_signing_key()), id="same-kid-other-key"),
        pytest.param(lambda: sign_token(_claims(), key=new_signing_key("unknown")), id="unknown-kid"),
        pytest.param(
            lambda: (
                sign_token(_claims())[:-4]
                + ("AAAA" if not sign_token(_claims()).endswith("AAAA") else "BBBB")
            ),
            id="bad-signature",
        ),
    ],
)
def test_tokens_that_must_be_refused(api, token):
    body = assert_problem(api.get(ENDPOINT, headers=bearer(token())), 401, "invalid_token")
    assert "detail" in body


def test_a_token_without_the_scope_is_forbidden(api):
    token = sign_token(access_claims("openid profile", sub="resident-a"))
    body = assert_problem(api.get(ENDPOINT, headers=bearer(token)), 403, "insufficient_scope")
    assert "ledger:resident" in body["detail"]


def test_a_department_token_cannot_act_for_a_resident(api):
    token = sign_token(access_claims("ledger:resident ledger:department", sub="td-backend", department="TD"))
    assert_problem(api.get(ENDPOINT, headers=bearer(token)), 403, "insufficient_scope")


def test_resident_clients_can_be_pinned(runtime):
    config = ConsentConfig(resident_client_ids=frozenset({"egate-account"}))
    app = create_app(runtime, config=config, jwks=provider_jwks())
    with TestClient(app) as client:
        assert client.get(ENDPOINT, headers=resident_headers("resident-a")).status_code == 200
        other = sign_token(access_claims("ledger:resident", sub="resident-a", client_id="some-rp"))
        assert_problem(client.get(ENDPOINT, headers=bearer(other)), 403)


def test_a_resident_token_is_not_a_department_token(api):
    response = api.get("/ledger/department/entries", headers=resident_headers("resident-a"))
    assert response.status_code == 403
    response = api.get("/ledger/department/entries", headers=department_headers("TD"))
    assert response.status_code == 200


def test_an_unreachable_provider_is_a_503_problem(runtime):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    jwks = HttpJwks("http://testserver/jwks", client=httpx.Client(transport=httpx.MockTransport(handler)))
    with TestClient(create_app(runtime, jwks=jwks)) as client:
        response = client.get(ENDPOINT, headers=resident_headers("resident-a"))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_the_consent_app_verifies_tokens_from_the_jwks_it_fetches(runtime):
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://testserver/jwks"
        return httpx.Response(200, json={"keys": [PROVIDER_KEY.public_jwk]})

    jwks = HttpJwks("http://testserver/jwks", client=httpx.Client(transport=httpx.MockTransport(handler)))
    with TestClient(create_app(runtime, jwks=jwks)) as client:
        assert client.get(ENDPOINT, headers=resident_headers("resident-a")).status_code == 200


def _scope_without_role(scope: str, sub: str = "resident-a", **extra) -> dict[str, str]:
    return bearer(sign_token(access_claims(scope, sub=sub, **extra)))


@pytest.mark.parametrize(
    "path", ["/ledger/audit/entries", "/ledger/audit/access-log", "/ledger/audit/export"]
)
@pytest.mark.parametrize(
    "token",
    [
        # Signed when the test runs (a token made at collection would expire in a long run).
        pytest.param(dict(scope="openid ledger:audit"), id="resident-with-the-scope"),
        pytest.param(dict(scope="ledger:audit", roles=["officer"]), id="officer-with-the-scope"),
        pytest.param(
            dict(scope="ledger:audit", sub="td-backend", department="TD"),
            id="client-no-audit-system",
        ),
        pytest.param(dict(scope="ledger:audit", roles="auditor"), id="roles-not-a-list"),
    ],
)
def test_the_audit_scope_counts_only_with_the_auditor_role(api, path, token):
    response = api.get(path, headers=_scope_without_role(**token))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "auditor role" in response.json()["detail"]


def test_a_resident_with_the_audit_scope_gets_no_proof_of_anothers_entry(api, port, db, now):
    port.record_disclosure(
        db,
        resident_id="resident-b",
        client_id="td-licensing",
        department="TD",
        channel="id_token",
        fields=["sub"],
        purpose="Licensing",
        grant_id=None,
        legal_basis=None,
        request_id="req-x",
        now=now,
    )
    port.ledger.integrate(db, now, limit=10)
    db.commit()
    headers = _scope_without_role("ledger:resident ledger:audit")
    response = api.get("/ledger/proofs/inclusion", params={"index": 0}, headers=headers)
    assert response.status_code == 404
