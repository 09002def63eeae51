"""One Alembic history: it agrees with the models and goes up and down on both backends."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from consent.ledger.models import LEDGER_TABLES
from egate.cli import main
from egate.schema import all_metadata
from kit import db as kit_db
from kit import migrations
from kit.db import create_db_engine
from kit.settings import load_settings
from tests.support.databases import new_database_url

SERVICE_PREFIXES = ("idp_", "consent_", "forms_")


def test_models_and_migrations_agree(db_engine):
    with db_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": all_metadata()}
        )
        differences = compare_metadata(context, all_metadata())
    assert differences == []


def test_every_table_belongs_to_one_service():
    for table in all_metadata().tables:
        assert table.startswith(SERVICE_PREFIXES), table


def test_upgrade_to_head_then_downgrade_to_base(backend, request, tmp_path):
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    try:
        migrations.upgrade(engine)
        assert not migrations.is_behind(engine)
        tables = set(inspect(engine).get_table_names())
        expected = set(all_metadata().tables)
        assert expected <= tables
        migrations.downgrade(engine, "base", allow_dropping_protected=True)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(engine)
        assert expected <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_downgrade_that_would_drop_the_ledger_is_refused_and_changes_nothing(backend, request, tmp_path):
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    try:
        migrations.upgrade(engine)
        head = migrations.head_revision()
        with pytest.raises(migrations.ProtectedTablesError, match="consent_ledger_entries"):
            migrations.downgrade(engine, "base", protected_tables=LEDGER_TABLES)
        with engine.connect() as connection:
            assert migrations.current_revision(connection) == head
        assert set(all_metadata().tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_cli_never_assumes_a_downgrade_target(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["db", "downgrade"])
    assert exit_info.value.code == 2
    assert "needs a revision" in capsys.readouterr().err

    assert main(["db", "downgrade", "base"]) == 2
    err = capsys.readouterr().err
    assert "refusing to downgrade" in err and "--drop-ledger" in err and "Traceback" not in err
    engine = create_db_engine(load_settings().effective_database_url)
    try:
        assert "consent_ledger_entries" in inspect(engine).get_table_names()
        assert not migrations.is_behind(engine)
    finally:
        engine.dispose()

    assert main(["db", "downgrade", "base", "--drop-ledger"]) == 0
    engine = create_db_engine(load_settings().effective_database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_commits_are_durable_against_power_loss(tmp_path, monkeypatch):
    """SQLite is left at synchronous=NORMAL (no fsync inside COMMIT) because kit.db syncs the
    WAL itself, once per group of commits: a write's commit returns only after an fsync of
    the WAL file that began after it was written."""
    database = tmp_path / "durable.sqlite3"
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def recorded(descriptor: int) -> None:
        real_fsync(descriptor)
        status = os.fstat(descriptor)
        synced.append((status.st_ino, status.st_size))

    monkeypatch.setattr(kit_db.os, "fsync", recorded)
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            # 1 = NORMAL: SQLite syncs at checkpoints only; the commits are kit.db's to sync.
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        wal = os.stat(f"{database}-wal")
        assert synced and synced[-1] == (wal.st_ino, wal.st_size)  # the WAL as the commit left it
    finally:
        engine.dispose()
