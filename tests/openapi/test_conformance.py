"""The committed OpenAPI documents are true: schemathesis fuzzes every operation of the three
services on a live gateway (SQLite) and checks that nothing answers 5xx and that every
answer's status code, content type, headers and body are the ones the document describes.

A short budget (a few examples per operation) keeps this a CI test; for a deeper run set
EGATE_OPENAPI_EXAMPLES (e.g. 50), which also turns on schemathesis' coverage phase (boundary
and negative values for every parameter). The gateway is seeded
so that authenticated operations get past their access rules: the administrator credential,
a department client's token (department and audit ledger scopes, the forms hub's department
scope), a resident's forms hub session with a draft, and a published form. Operations the
seed does not open (the app's device API, a resident's ledger) are still fuzzed anonymously
and checked on their refusals. The explicit cases at the end check typed bodies on rows
that exist, which random identifiers would never hit.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from egate.cli import OPENAPI_DIR
from forms_hub.crypto import Sealer
from forms_hub.definitions import service as definitions
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import SESSION_COOKIE, create_session_for_tests
from forms_hub.principals import Resident
from forms_hub.submissions.records import create_draft
from kit.db import session_scope
from tests.openapi.conftest import ADMIN_TOKEN, Gateway, start_gateway

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
DEMO_FORM = Path(__file__).resolve().parents[2] / "forms_hub" / "demo_forms" / "change-of-address.json"
RESIDENT_SUB = "openapi-test-resident"
# Mounted where egate.app mounts each service.
PREFIXES = {"identity": "", "consent": "/consent", "forms_hub": "/forms"}
SHORT_BUDGET = 4
EXAMPLES = int(os.environ.get("EGATE_OPENAPI_EXAMPLES", SHORT_BUDGET))
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": EXAMPLES > SHORT_BUDGET},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
# The signing CA's OCSP responder and TSA take DER bodies of their own media types.
schemathesis.serializer.alias(
    ["application/ocsp-request", "application/timestamp-query"], "application/octet-stream"
)
BUDGET = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
    database=None,
)


def load(name: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(OPENAPI_DIR / f"{name}.json", config=CONFIG)


identity_schema = load("identity")
consent_schema = load("consent")
forms_schema = load("forms_hub")


@dataclass
class Seeded:
    gateway: Gateway
    department_token: str
    resident_cookie: str
    form_slug: str
    draft_id: str

    def url(self, service: str) -> str:
        return self.gateway.base_url + PREFIXES[service]

    def headers_for(self, service: str, path: str) -> dict[str, str]:
        """The credential each operation's access rule asks for."""
        if service == "identity":
            if path.startswith("/admin/"):
                return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            if path in ("/token", "/revoke", "/introspect", "/bc-authorize"):
                secret = f"{self.gateway.client_id}:{self.gateway.client_secret}"
                return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
            if path == "/userinfo":
                return {"Authorization": f"Bearer {self.department_token}"}
            return {}
        if service == "consent":
            token = ADMIN_TOKEN if path == "/ledger/checkpoints" else self.department_token
            return {"Authorization": f"Bearer {token}"}
        headers = {"Cookie": f"{SESSION_COOKIE}={self.resident_cookie}"}
        if path.startswith("/api/admin/"):
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        elif path.startswith("/api/department/"):
            headers["Authorization"] = f"Bearer {self.department_token}"
        return headers


def seed(gateway: Gateway) -> Seeded:
    runtime = gateway.runtime
    now = runtime.clock()
    document = json.loads(DEMO_FORM.read_text())
    for db in session_scope(runtime.sessions):
        loaded = definitions.load(db, document, now, publish=True)
        slug = loaded.definition.slug
        draft = create_draft(
            db, Sealer(runtime.master_key), timedelta(days=30), Resident(RESIDENT_SUB), slug, {}, now
        )
        draft_id = draft.id
        cookie = create_session_for_tests(
            db, RelyingPartyKeys(runtime.master_key), RESIDENT_SUB, now, timedelta(hours=1)
        )
    token = httpx.post(
        f"{gateway.base_url}/token",
        data={"grant_type": "client_credentials", "scope": "forms:department ledger:department ledger:audit"},
        auth=(gateway.client_id, gateway.client_secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return Seeded(gateway, token.json()["access_token"], cookie, slug, draft_id)


@pytest.fixture(scope="module")
def seeded(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Seeded]:
    # SQLite is enough to check the documents; both backends run the findings' tests.
    gateway = start_gateway("sqlite", request, tmp_path_factory)
    yield seed(gateway)
    gateway.server.stop()
    gateway.runtime.engine.dispose()


def call_and_validate(seeded: Seeded, service: str, case: schemathesis.Case) -> None:
    case.call_and_validate(
        base_url=seeded.url(service),
        headers=seeded.headers_for(service, case.path),
        checks=CHECKS,
        timeout=10,
    )


@identity_schema.parametrize()
@BUDGET
def test_identity_conforms(case: schemathesis.Case, seeded: Seeded) -> None:
    call_and_validate(seeded, "identity", case)


@consent_schema.parametrize()
@BUDGET
def test_consent_conforms(case: schemathesis.Case, seeded: Seeded) -> None:
    call_and_validate(seeded, "consent", case)


@forms_schema.parametrize()
@BUDGET
def test_forms_hub_conforms(case: schemathesis.Case, seeded: Seeded) -> None:
    call_and_validate(seeded, "forms_hub", case)


# -- typed bodies on rows that exist ------------------------------------------------------------


def explicit(schema: schemathesis.BaseSchema, path: str, method: str, **parts: Any) -> schemathesis.Case:
    return schema[path][method].Case(**parts)


def test_the_forms_hub_answers_match_their_schemas_on_real_rows(seeded: Seeded) -> None:
    cases = [
        explicit(forms_schema, "/api/forms", "GET"),
        explicit(forms_schema, "/api/forms/{slug}", "GET", path_parameters={"slug": seeded.form_slug}),
        explicit(forms_schema, "/api/admin/definitions", "GET"),
        explicit(forms_schema, "/api/submissions", "GET"),
        explicit(
            forms_schema,
            "/api/submissions/{submission_id}",
            "GET",
            path_parameters={"submission_id": seeded.draft_id},
        ),
        explicit(
            forms_schema,
            "/api/submissions/{submission_id}/answers",
            "PUT",
            path_parameters={"submission_id": seeded.draft_id},
            body={"answers": {}},
        ),
        explicit(forms_schema, "/api/notifications", "GET"),
        explicit(forms_schema, "/api/licences", "GET"),
        explicit(forms_schema, "/api/department/submissions", "GET"),
        explicit(forms_schema, "/.well-known/jwks.json", "GET"),
    ]
    for case in cases:
        headers = seeded.headers_for("forms_hub", case.path)
        response = case.call(base_url=seeded.url("forms_hub"), headers=headers)
        assert response.status_code in (200, 201), (case.path, response.text)
        case.validate_response(response, checks=CHECKS)


def test_the_ledger_and_provider_answers_match_their_schemas(seeded: Seeded) -> None:
    cases = [
        ("consent", explicit(consent_schema, "/ledger/checkpoints", "POST")),
        ("consent", explicit(consent_schema, "/ledger/checkpoints/latest", "GET")),
        ("consent", explicit(consent_schema, "/ledger/department/entries", "GET")),
        ("consent", explicit(consent_schema, "/ledger/audit/entries", "GET")),
        ("consent", explicit(consent_schema, "/ledger/audit/access-log", "GET")),
        ("consent", explicit(consent_schema, "/ledger/public-key", "GET")),
        ("identity", explicit(identity_schema, "/.well-known/openid-configuration", "GET")),
        ("identity", explicit(identity_schema, "/jwks", "GET")),
        ("identity", explicit(identity_schema, "/admin/clients", "GET")),
        (
            "identity",
            explicit(identity_schema, "/token", "POST", body={"grant_type": "client_credentials"}),
        ),
        (
            "identity",
            explicit(
                identity_schema,
                "/introspect",
                "POST",
                body={"token": seeded.department_token},
            ),
        ),
    ]
    for service, case in cases:
        response = case.call(base_url=seeded.url(service), headers=seeded.headers_for(service, case.path))
        assert response.status_code in (200, 201), (case.path, response.text)
        case.validate_response(response, checks=CHECKS)
