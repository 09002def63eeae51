"""A database that is stopped, frozen or locked costs a fast 503 with Retry-After, in each
route's own format, over real HTTP; the gateway recovers by itself when the database does.

PostgreSQL faults run on a cluster of this module's own (stopping or freezing the shared
one would stall every other test); SQLite's fault is its write lock held by another process.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from egate.app import create_app
from kit import migrations
from kit.runtime import Runtime
from tests.support.databases import IN_CI, make_settings
from tests.support.live_server import LiveServer, free_port, start_live_server
from tests.support.postgres import PostgresUnavailable, TempCluster, start_temp_cluster

pytestmark = pytest.mark.faults

FAST = dict(
    db_connect_timeout_seconds=1.0,
    db_pool_timeout_seconds=1.0,
    db_lock_timeout_seconds=0.5,
    request_deadline_seconds=1.5,
)
# A request must fail well before a stalled database would come back by itself.
FAIL_FAST_SECONDS = 4.0


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[TempCluster]:
    try:
        cluster = start_temp_cluster(durable_commits=True)
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


def gateway(tmp_path, **settings: object) -> tuple[Runtime, LiveServer]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"  # Authlib allows plain http on loopback only
    runtime = Runtime.build(make_settings(tmp_path, issuer=issuer, **FAST, **settings))
    migrations.upgrade(runtime.engine)
    return runtime, start_live_server(create_app(runtime), port)


def assert_outage(response: httpx.Response, started: float) -> None:
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0


def probe_every_format(base_url: str) -> None:
    """One request per format: OAuth JSON, problem+json (two services), a page, readiness."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        started = time.monotonic()
        token = http.post(
            "/token", data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
        )
        assert_outage(token, started)
        assert token.json()["error"] == "temporarily_unavailable"

        for path in ("/consent/ledger/public-key", "/forms/api/forms"):
            started = time.monotonic()
            problem = http.get(path)
            assert_outage(problem, started)
            assert problem.headers["content-type"] == "application/problem+json"
            assert problem.json()["status"] == 503

        started = time.monotonic()
        page = http.get("/forms/", headers={"Accept": "text/html"})
        assert_outage(page, started)
        assert page.headers["content-type"].startswith("text/html")
        assert "Service unavailable" in page.text and "服務暫時未能提供" in page.text

        started = time.monotonic()
        ready = http.get("/health/ready")
        assert_outage(ready, started)
        assert ready.json()["status"] == "unavailable"


def assert_recovered(base_url: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        ready = httpx.get(f"{base_url}/health/ready", timeout=10)
        if ready.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ready.status_code == 200, ready.text
    assert httpx.get(f"{base_url}/forms/api/forms", timeout=10).status_code == 200


def test_a_stopped_postgresql_answers_503_in_every_format_and_recovers(own_cluster, tmp_path):
    runtime, server = gateway(tmp_path, database_url=own_cluster.url("postgres"))
    try:
        assert httpx.get(f"{server.base_url}/health/ready").status_code == 200
        own_cluster.stop_server()
        try:
            probe_every_format(server.base_url)
        finally:
            own_cluster.start_server()
        assert_recovered(server.base_url)
    finally:
        server.stop()
        runtime.engine.dispose()


def test_a_frozen_postgresql_fails_fast_instead_of_hanging(own_cluster, tmp_path):
    runtime, server = gateway(tmp_path, database_url=own_cluster.url("postgres"))
    try:
        assert httpx.get(f"{server.base_url}/forms/api/forms").status_code == 200
        own_cluster.freeze()
        try:
            probe_every_format(server.base_url)
        finally:
            own_cluster.thaw()
        assert_recovered(server.base_url)
    finally:
        server.stop()
        runtime.engine.dispose()


def test_a_locked_sqlite_database_answers_503_and_recovers(tmp_path):
    runtime, server = gateway(tmp_path)
    database_file = runtime.settings.effective_database_url.removeprefix("sqlite:///")
    other_process = sqlite3.connect(database_file, isolation_level=None)
    try:
        other_process.execute("BEGIN EXCLUSIVE")
        try:
            probe_every_format(server.base_url)
        finally:
            other_process.execute("ROLLBACK")
        assert_recovered(server.base_url)
    finally:
        other_process.close()
        server.stop()
        runtime.engine.dispose()
