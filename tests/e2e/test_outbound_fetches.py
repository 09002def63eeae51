"""Issue 12, item 6: server-side request forgery through a client's ``jwks_uri``.

An anonymous ``/token`` request with a ``client_assertion`` makes the provider fetch the
keys of the client the assertion names. Registration refuses URLs that are not public https;
a URL stored before that rule (inserted directly here) is checked again at fetch time, before
any connection is made; a failed fetch is answered ``invalid_client`` and remembered, so
repeating the request does not repeat the fetch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from egate.app import create_app
from identity.clients.models import Client
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.e2e.conftest import ADMIN_TOKEN, Gateway
from tests.e2e.test_oidc_code_flow import department
from tests.e2e.test_oidc_tokens import _assertion, _ec_jwks
from tests.support.databases import make_settings, new_database_url
from tests.support.live_server import free_port, start_live_server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class RecordingListener:
    """A local HTTP server that records every TCP connection made to it and answers every
    GET with ``status`` and ``body``."""

    def __init__(self, status: int = 500, body: bytes = b"{}") -> None:
        self.connections: list[tuple[str, int]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request, client_address) -> bool:
                listener.connections.append(client_address)
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    recording = RecordingListener()
    yield recording
    recording.stop()


def registration_body(jwks_uri: str) -> dict:
    return {
        "client_name": "Keys by URL",
        "department": "KEYS",
        "grant_types": ["client_credentials"],
        "scope": "ledger:department",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
    }


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "http://127.0.0.1/jwks",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "https://127.0.0.1/jwks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/jwks",
        "https://192.168.1.1/jwks",
        "https://[::1]/jwks",
        "https://[::ffff:127.0.0.1]/jwks",
        "https://[fe80::1]/jwks",
        "https://0.0.0.0/jwks",
        "https://224.0.0.1/jwks",
        "https://localhost/jwks",
        "https://user:password@keys.example.gov.hk/jwks",
        "https://keys.example.gov.hk/jwks#fragment",
        "gopher://keys.example.gov.hk/jwks",
        "not a url",
    ],
)
def test_registration_refuses_a_jwks_uri_that_is_not_public_https(gateway, jwks_uri):
    response = requests.post(
        f"{gateway.base_url}/admin/clients", json=registration_body(jwks_uri), headers=ADMIN, timeout=10
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert body["error_description"].startswith("jwks_uri:")


def test_registration_accepts_a_public_https_jwks_uri(gateway):
    response = requests.post(
        f"{gateway.base_url}/admin/clients",
        json=registration_body("https://keys.example.gov.hk/jwks"),
        headers=ADMIN,
        timeout=10,
    )
    assert response.status_code == 201, response.text


def client_with_stored_jwks_uri(gateway: Gateway, jwks_uri: str) -> str:
    """A private_key_jwt client whose ``jwks_uri`` is written straight into its row, as if it
    had been registered before registration checked it."""
    _, jwks = _ec_jwks()
    dept = department(
        gateway,
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks,
        grant_types=("client_credentials",),
        redirect_uris=[],
        allowed_scopes=("ledger:department",),
    )
    for db in session_scope(gateway.runtime.sessions):
        row = db.get(Client, dept.client_id)
        assert row is not None
        row.jwks, row.jwks_uri = None, jwks_uri
    return dept.client_id


def token_request_with_assertion(
    gateway: Gateway, client_id: str, pem: str | None = None
) -> requests.Response:
    token_url = f"{gateway.base_url}/token"
    pem = pem or _ec_jwks()[0]  # anyone can sign an assertion; it names the client by its sub
    return requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": _assertion(pem, client_id, token_url),
        },
        timeout=10,
    )


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/jwks",
        "https://127.0.0.1:{port}/jwks",
        "https://localhost:{port}/jwks",
        "https://[::ffff:127.0.0.1]:{port}/jwks",
        "https://0x7f000001:{port}/jwks",
    ],
)
def test_a_stored_private_jwks_uri_is_refused_at_fetch_time_without_connecting(gateway, listener, template):
    client_id = client_with_stored_jwks_uri(gateway, template.format(port=listener.port))
    for _ in range(2):
        response = token_request_with_assertion(gateway, client_id)
        assert response.status_code == 400, response.text  # no HTTP Basic: no 401 (RFC 6749 §5.2)
        assert response.json()["error"] == "invalid_client"
    assert listener.connections == []


def test_a_stored_file_uri_is_refused(gateway):
    client_id = client_with_stored_jwks_uri(gateway, "file:///etc/passwd")
    response = token_request_with_assertion(gateway, client_id)
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


# -- a test deployment that allows private addresses (EGATE_OUTBOUND_ALLOW_PRIVATE) ----------


@pytest.fixture(scope="module")
def test_deployment(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp(f"outbound-{backend}")
    port = free_port()
    settings = make_settings(
        tmp,
        database_url=new_database_url(backend, request, tmp),
        issuer=f"http://127.0.0.1:{port}",
        admin_token=ADMIN_TOKEN,
        outbound_allow_private=True,
    )
    engine = create_db_engine(settings.effective_database_url)
    migrations.upgrade(engine)
    runtime = Runtime(settings, engine, create_session_factory(engine), load_master_key(settings))
    server = start_live_server(create_app(runtime), port)
    yield Gateway(server.base_url, runtime)
    server.stop()
    engine.dispose()


def test_a_failed_fetch_is_remembered_and_answered_invalid_client(test_deployment, listener):
    client_id = client_with_stored_jwks_uri(test_deployment, f"http://127.0.0.1:{listener.port}/jwks")
    for _ in range(3):
        response = token_request_with_assertion(test_deployment, client_id)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_client"
    assert len(listener.connections) == 1


def test_a_test_deployment_may_fetch_keys_from_a_private_address(test_deployment):
    pem, jwks = _ec_jwks()
    keys = RecordingListener(status=200, body=json.dumps(jwks).encode())
    try:
        client_id = client_with_stored_jwks_uri(test_deployment, f"http://127.0.0.1:{keys.port}/jwks")
        response = token_request_with_assertion(test_deployment, client_id, pem)
        assert response.status_code == 200, response.text
        assert len(keys.connections) == 1
    finally:
        keys.stop()
