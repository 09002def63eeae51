"""Input no route can accept is refused before any route runs, over real HTTP, in each
route's own format, and nothing is stored: oversized and slow bodies, header floods, file
parts where none belong, NUL characters, lone surrogates, integers beyond 64 bits and
undecodable Basic credentials (the audit's F1, F4-F7 and the request-size findings)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from egate.app import create_app
from identity.clients.models import Client
from kit import migrations
from kit.runtime import Runtime
from tests.support.databases import make_settings, new_database_url
from tests.support.live_server import LiveServer, free_port, start_live_server

ADMIN_TOKEN = "admin-token-for-the-request-guard-tests-0123456789"
LIMITS = dict(
    max_body_bytes=64 * 1024,
    body_idle_timeout_seconds=0.5,
    body_total_timeout_seconds=3.0,
    admin_token=ADMIN_TOKEN,
)


@pytest.fixture(scope="module")
def gateway(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory
) -> Iterator[tuple[Runtime, LiveServer]]:
    tmp = tmp_path_factory.mktemp(f"guard-{backend}")
    port = free_port()
    database_url = new_database_url(backend, request, tmp)
    runtime = Runtime.build(
        make_settings(tmp, issuer=f"http://127.0.0.1:{port}", database_url=database_url, **LIMITS)
    )
    migrations.upgrade(runtime.engine)
    server = start_live_server(create_app(runtime), port)
    yield runtime, server
    server.stop()
    runtime.engine.dispose()


@pytest.fixture
def http(gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway[1].base_url, timeout=10) as client:
        yield client


def client_count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Client)) or 0


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


# -- sizes and timing --------------------------------------------------------------------------


def raw_exchange(server: LiveServer, head: bytes, body: bytes = b"") -> bytes:
    """Speak HTTP/1.1 by hand, for requests an HTTP client library refuses to send."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(head + b"\r\n\r\n" + body)
        return raw.recv(65536)


def test_a_declared_huge_body_is_refused_before_it_is_read(gateway):
    started = time.monotonic()
    answer = raw_exchange(
        gateway[1],
        b"POST /forms/api/receipts/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 419430400",
        b"{" + b" " * 1024,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_counted_while_it_streams(http):
    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB in all, far beyond the 64 KiB limit
            yield b"[" + b"1," * 32 * 1024 + b"1]"

    try:
        response = http.post(
            "/forms/api/receipts/verify", content=chunks(), headers={"Content-Type": "application/json"}
        )
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection before answering")
    assert_problem(response, 413)


def test_an_oversized_token_request_gets_an_oauth_error(http):
    response = http.post("/token", data={"grant_type": "client_credentials", "junk": "x" * 100_000})
    assert_oauth_error(response, 413, "invalid_request")


def test_a_slow_body_is_cut_off(gateway):
    started = time.monotonic()
    answer = raw_exchange(
        gateway[1],
        b"POST /forms/api/receipts/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000",
        b"{",
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 5


def test_too_many_header_fields_are_refused(http):
    headers = {f"x-flood-{i}": "1" for i in range(3000)}
    response = http.get("/health/live", headers=headers)
    assert response.status_code == 431


def test_a_megabyte_header_is_refused(http):
    response = http.get("/health/live", headers={"x-large": "a" * (1024 * 1024)})
    assert response.status_code in (400, 431)  # uvicorn's parser may refuse it even earlier


def test_the_sign_in_form_takes_no_file_parts(http):
    response = http.post(
        "/signin",
        files={"identifier": ("id.txt", b"A123456(3)", "text/plain")},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("text/html")


# -- values no database can hold -------------------------------------------------------------


def test_undecodable_basic_credentials_are_a_client_error_f1(http):
    response = http.post(
        "/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic /w=="}
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_a_lone_surrogate_in_a_registration_changes_nothing_f4(gateway, http):
    runtime, _ = gateway
    before = client_count(runtime)
    body = '{"client_name": "\\ud800", "redirect_uris": ["https://rp.example/cb"]}'
    response = http.post(
        "/admin/clients",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    problem = assert_problem(response, 400)
    assert "surrogate" in problem["detail"]
    assert client_count(runtime) == before


@pytest.mark.parametrize(
    "path",
    [
        "/consent/ledger/checkpoints/9223372036854775808",
        "/forms/api/admin/definitions/pet-licence/versions/99999999999999999999",
    ],
)
def test_path_integers_beyond_64_bits_are_refused_f5(http, path):
    assert_problem(http.get(path), 400)


def test_a_lone_surrogate_in_form_answers_is_refused_f6(http):
    body = json.dumps({"answers": {"name": "\ud800", "\udc00": "x"}}, ensure_ascii=True)
    response = http.post("/forms/api/submissions", content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/consent/ledger/audit/entries?resident_id=a%00b", None),
        ("GET", "/consent/ledger/audit/entries?department=FE%00HD", None),
        ("GET", "/forms/api/forms/pet%00licence", None),
        ("GET", "/forms/api/submissions/abc%00def", None),
    ],
)
def test_nul_characters_are_refused_in_the_route_format_f7(http, method, path, data):
    assert_problem(http.request(method, path, data=data), 400)


def test_nul_in_a_client_id_is_an_oauth_error_f7(http):
    response = http.post(
        "/token", data={"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "s"}
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_nul_in_an_authorization_request_gets_a_page_f7(http):
    response = http.get("/authorize?client_id=a%00b&response_type=code", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


def test_ordinary_requests_still_pass(http):
    assert http.get("/health/live").status_code == 200
    assert http.get("/forms/api/forms").status_code == 200
    # an opaque OAuth value made of digits is not a number to bound
    response = http.get(
        "/authorize?client_id=unknown&response_type=code&state=123456789012345678901234567890",
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 400
    assert "cannot be accepted" not in response.text  # the provider's own answer, not the guard's
