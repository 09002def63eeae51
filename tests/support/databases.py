"""Database helpers for tests: new empty databases on either backend, test settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kit.settings import Settings
from tests.support.postgres import TempCluster

BACKENDS = ["sqlite", "postgresql"]
IN_CI = os.environ.get("CI", "").lower() == "true"

# Cheap argon2 in tests (the production default is OWASP's minimum).
TEST_SETTINGS = dict(
    issuer="http://testserver",
    argon2_time_cost=1,
    argon2_memory_kib=1024,
    master_key="ZWdhdGUtdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=",
)


def new_postgres_database(cluster: TempCluster | None, prefix: str) -> str:
    """Create an empty database and return its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_url = os.environ.get("EGATE_TEST_POSTGRES_URL") or cluster.url("postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, query = admin_url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def new_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'egate.sqlite3'}"
    return new_postgres_database(request.getfixturevalue("postgres_cluster"), "egate")


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, **{**TEST_SETTINGS, **overrides})  # type: ignore[arg-type]
