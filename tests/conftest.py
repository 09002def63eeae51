"""Shared fixtures: the two database backends, a migrated schema, one rolled-back
transaction per test.

Every test that asks for ``db_engine`` (directly or through ``db`` / ``runtime``) runs once
on SQLite and once on a real PostgreSQL server started here (or the one named by
EGATE_TEST_POSTGRES_URL). Under CI=true PostgreSQL must be available: no silent skip.
"""

from __future__ import annotations

import os
import shutil
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
from tests.support.postgres import PostgresUnavailable, TempCluster, start_temp_cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[TempCluster | None]:
    if os.environ.get("EGATE_TEST_POSTGRES_URL"):
        yield None
        return
    try:
        cluster = start_temp_cluster()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


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
