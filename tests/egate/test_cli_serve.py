"""`egate serve --port P`: without EGATE_ISSUER the issuer follows the port actually served;
`--demo` seeds the demo data and opens the demo mailbox, which the banner names."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from consent.ledger import repository as ledger_repository
from egate.app import app_from_environment
from egate.cli import issuer_on_the_served_port, main
from identity.mailbox.routes import MAILBOX_PATH
from kit.db import create_db_engine, create_session_factory, runs_reads_first
from kit.settings import load_settings
from tests.support.databases import new_database_url
from tests.support.live_server import free_port

START_TIMEOUT_SECONDS = 120  # a busy machine with other tests beside


@pytest.fixture(autouse=True)
def heap_unfrozen_afterwards() -> Iterator[None]:
    """`egate serve` freezes its heap before serving (egate/heap.py); called in this test
    process, the objects it froze go back to the collector after the test."""
    yield
    gc.unfreeze()


def test_serve_freezes_the_heap_the_app_was_built_with_before_serving(tmp_path, monkeypatch):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    monkeypatch.setattr(os, "environ", {**environment, "EGATE_DATA_DIR": str(tmp_path)})
    gc.unfreeze()
    frozen_when_served = []
    monkeypatch.setattr(
        "egate.cli.uvicorn.run", lambda app, **options: frozen_when_served.append(gc.get_freeze_count())
    )
    assert main(["serve", "--port", "8123"]) == 0
    assert frozen_when_served[0] > 10_000, "the app's objects are still swept by the collector"


def test_each_worker_freezes_its_heap_once_its_app_is_built(tmp_path, monkeypatch):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    monkeypatch.setattr(os, "environ", {**environment, "EGATE_DATA_DIR": str(tmp_path)})
    gc.unfreeze()
    app = app_from_environment()
    assert gc.get_freeze_count() > 10_000
    assert app.state.runtime.settings.data_dir == tmp_path


def test_the_port_moves_the_default_issuer_but_never_a_configured_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EGATE_ISSUER", raising=False)
    assert issuer_on_the_served_port(load_settings(), 8123).issuer == "http://127.0.0.1:8123"
    monkeypatch.setenv("EGATE_ISSUER", "https://id.example.hk")
    assert issuer_on_the_served_port(load_settings(), 8123).issuer == "https://id.example.hk"


def test_serve_with_workers_hands_them_the_issuer_on_its_port(tmp_path, monkeypatch):
    """Each worker builds its app from the environment (egate.app.app_from_environment)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    monkeypatch.setattr(os, "environ", {**environment, "EGATE_DATA_DIR": str(tmp_path)})
    served = []
    monkeypatch.setattr("egate.cli.serve_with_workers", served.append)
    assert main(["serve", "--port", "8123", "--workers", "2"]) == 0
    assert served[0].app == "egate.app:app_from_environment" and served[0].factory
    assert served[0].workers == 2 and served[0].port == 8123
    worker = load_settings()
    assert worker.issuer == "http://127.0.0.1:8123" and not worker.demo
    assert worker.reads_first, "workers sharing SQLite read outside its write lock"


def test_one_process_serves_reads_first_too_and_an_operator_may_turn_it_off(tmp_path, monkeypatch):
    """In one process reads-first work's inserts share the loop turn's write transaction
    (kit.insert_batches), which costs less than a transaction each."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    monkeypatch.setattr(os, "environ", {**environment, "EGATE_DATA_DIR": str(tmp_path)})
    served = []
    monkeypatch.setattr("egate.cli.uvicorn.run", lambda app, **options: served.append(app))
    assert main(["serve", "--port", "8123"]) == 0
    assert runs_reads_first(served[0].state.runtime.sessions())
    os.environ["EGATE_DATABASE_READS_FIRST"] = "false"
    monkeypatch.setattr("egate.cli.serve_with_workers", served.append)
    assert main(["serve", "--port", "8123", "--workers", "2"]) == 0
    assert not load_settings().reads_first


@pytest.fixture
def served_demo(tmp_path):
    """`egate serve --demo --port P` as a newcomer runs it: no EGATE_* but a fresh data dir."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    env.update(EGATE_DATA_DIR=str(tmp_path), EGATE_ARGON2_TIME_COST="1", EGATE_ARGON2_MEMORY_KIB="1024")
    process = subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                pytest.fail("egate serve stopped:\n" + "".join(banner))
            banner.append(line)
            if "serving on" in line:
                break
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, "".join(banner)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_demo_on_another_port_publishes_it_signs_the_hub_in_there_and_names_the_mailbox(served_demo):
    base, banner = served_demo
    assert f"Sign in at {base}/signin" in banner
    assert f"Demo mailbox (the email and SMS messages with their codes): {base}{MAILBOX_PATH}" in banner
    assert httpx.get(f"{base}/.well-known/openid-configuration").json()["issuer"] == base
    # The hub pushes its request to the provider on this port, then sends the browser there.
    login = httpx.get(f"{base}/forms/auth/login")
    assert login.status_code == 303 and login.headers["location"].startswith(f"{base}/authorize?")
    mailbox = httpx.get(f"{base}{MAILBOX_PATH}")
    assert mailbox.status_code == 200 and 'id="demo-mailbox-notice"' in mailbox.text


def test_serve_does_not_name_the_server_software(served_demo):
    base, _ = served_demo
    for response in (httpx.get(f"{base}/health/live"), httpx.post(f"{base}/token", data={})):
        assert "server" not in response.headers
        assert "date" in response.headers  # RFC 9110 §6.6.1: an origin server with a clock sends it


def test_serve_on_postgresql_runs_the_ledger_sequencer_in_a_process_of_its_own(
    request, tmp_path, monkeypatch
):
    """Not a thread of the app, whose GIL the request threads share (consent.app.sequencer_process):
    the process takes the lease in the server's name while it serves, and gives it up after."""
    url = new_database_url("postgresql", request, tmp_path)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    monkeypatch.setattr(
        os, "environ", {**environment, "EGATE_DATA_DIR": str(tmp_path), "EGATE_DATABASE_URL": url}
    )
    engine = create_db_engine(url)
    sessions = create_session_factory(engine)
    holders = []

    def serve(app, **options):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not holders or holders[-1] is None:
            assert time.monotonic() < deadline, "no sequencer process took the lease"
            time.sleep(0.1)
            with sessions() as db:
                holders.append(ledger_repository.read_lease(db)[0])

    monkeypatch.setattr("egate.cli.uvicorn.run", serve)
    try:
        assert main(["serve", "--port", "8123"]) == 0
        assert f":{os.getpid()}:" in holders[-1]
        assert not load_settings().consent_sequencer_enabled  # nor in the workers' apps
        with sessions() as db:
            assert ledger_repository.read_lease(db) == (None, None)
    finally:
        engine.dispose()
