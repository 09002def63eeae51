"""A real gateway over HTTP for the OpenAPI tests, with the administrator credential set and
one department client registered, so that authenticated operations can be exercised."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from egate.app import create_app
from identity.clients.service import Registration, register
from kit import migrations
from kit.db import session_scope
from kit.runtime import Runtime
from tests.support.databases import make_settings, new_database_url
from tests.support.live_server import LiveServer, free_port, start_live_server

ADMIN_TOKEN = "admin-token-for-the-openapi-tests-0123456789"
REDIRECT_URI = "https://dept.example.gov.hk/callback"


@dataclass
class Gateway:
    runtime: Runtime
    server: LiveServer
    client_id: str
    client_secret: str

    @property
    def base_url(self) -> str:
        return self.server.base_url


def start_gateway(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Gateway:
    tmp = tmp_path_factory.mktemp(f"openapi-{backend}")
    port = free_port()
    settings = make_settings(
        tmp,
        issuer=f"http://127.0.0.1:{port}",
        database_url=new_database_url(backend, request, tmp),
        admin_token=ADMIN_TOKEN,
    )
    runtime = Runtime.build(settings)
    migrations.upgrade(runtime.engine)
    # A department back-end: client_credentials for the forms hub's department API, the
    # ledger's department entries and (for these tests) its audit queries, and a redirect URI
    # for the authorization endpoint.
    registration = Registration(
        name="OpenAPI test department",
        department="DEMO",
        redirect_uris=[REDIRECT_URI],
        grant_types=("authorization_code", "refresh_token", "client_credentials"),
        allowed_scopes=("openid", "profile", "forms:department", "ledger:department", "ledger:audit"),
        subject_type="public",
        audit_system=True,  # ledger:audit is bound to the auditor role
    )
    for db in session_scope(runtime.sessions):
        client, secret = register(db, runtime.master_key, registration, runtime.clock())
        client_id = client.client_id
    assert secret is not None
    server = start_live_server(create_app(runtime), port)
    return Gateway(runtime, server, client_id, secret)


@pytest.fixture(scope="module")
def gateway(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Gateway]:
    running = start_gateway(backend, request, tmp_path_factory)
    yield running
    running.server.stop()
    running.runtime.engine.dispose()
