"""Shared fixtures: the two database backends, a migrated schema, one rolled-back
transaction per test.

Every test that asks for ``db_engine`` (directly or through ``db`` / ``runtime``) runs once
on SQLite and once on a real PostgreSQL server started here (or the one named by
EGATE_TEST_POSTGRES_URL). Under CI=true PostgreSQL must be available: no silent skip.

scripts/test runs the suite in pytest-xdist workers, one per core. The run still has one
PostgreSQL cluster (tests.support.postgres.shared_cluster); each worker makes its own
databases in it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kit import migrations
from kit.db import create_db_engine
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.support.databases import BACKENDS, IN_CI, make_settings, new_database_url
from tests.support.postgres import PostgresUnavailable, TempCluster, shared_cluster, stop_shared_cluster

# The run's own directory (the shared cluster's lock and address), made by the process that
# owns the run and inherited by its xdist workers.
RUN_DIR = "EGATE_TEST_RUN_DIR"
owns_run_dir = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and RUN_DIR not in os.environ:
        run_dir = Path(tempfile.mkdtemp(prefix="egate-test-run-"))
        os.environ[RUN_DIR] = str(run_dir)
        config.stash[owns_run_dir] = run_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    run_dir = config.stash.get(owns_run_dir, None)
    if run_dir is not None:
        stop_shared_cluster(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        os.environ.pop(RUN_DIR, None)


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    # pytest 9 keeps a node's id as a structured NodeId (xdist's own renaming, by `_nodeid`,
    # no longer takes); the checks below notice if this ever stops working too.
    item._id = type(item._id).parse(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Node ids that xdist can schedule: unique, and the `faults` tests in one group."""
    # xdist hands tests to workers by node id: schemathesis gives every operation of a schema
    # the test function's id, and all but one would silently not run. Their names differ.
    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1:
            _set_nodeid(item, f"{item.nodeid.rpartition('::')[0]}::{item.name}")
    repeated = [nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1]
    if repeated:
        raise pytest.UsageError(f"tests with the same node id would not all run: {repeated[:5]}")
    # Under `--dist loadgroup` a worker takes a group whole: the `faults` tests run on one
    # worker, one after another (the suffix is xdist_group's own convention).
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if item.get_closest_marker("faults"):
                _set_nodeid(item, f"{item.nodeid}@faults")
                if not item.nodeid.endswith("@faults"):
                    raise pytest.UsageError(f"could not group {item.nodeid} with the other fault tests")


@pytest.fixture(scope="session")
def postgres_cluster() -> TempCluster | None:
    if os.environ.get("EGATE_TEST_POSTGRES_URL"):
        return None
    try:
        return shared_cluster(Path(os.environ[RUN_DIR]))
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def db_engine(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    url = new_database_url(backend, request, tmp_path_factory.mktemp(backend))
    engine = create_db_engine(url)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator:
    connection = db_engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def session_factory(db_connection) -> sessionmaker[Session]:
    # Each commit inside the code under test releases a savepoint; the outer transaction is
    # rolled back after the test, so tests never see each other's rows.
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def runtime(db_engine: Engine, session_factory, tmp_path: Path) -> Runtime:
    settings = make_settings(tmp_path, database_url=str(db_engine.url.render_as_string(False)))
    return Runtime(settings, db_engine, session_factory, master_key=load_master_key(settings))


CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI=true")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
