"""Read-only transactions (kit.db.begin_read_only): no writer gate on SQLite, and a write in
one fails on either backend instead of slipping past the gate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kit.db import DatabaseTimeouts, begin_read_only, create_db_engine
from tests.support.databases import new_database_url


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    # One pooled connection: the transaction after a read-only one gets the same connection.
    engine = create_db_engine(new_database_url(backend, request, tmp_path), pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
        connection.execute(text("INSERT INTO numbers (n) VALUES (1)"))
    yield engine
    engine.dispose()


def test_a_write_in_a_read_only_transaction_fails_and_the_next_transaction_writes(engine):
    with Session(engine) as db:
        begin_read_only(db)
        assert db.execute(text("SELECT count(*) FROM numbers")).scalar() == 1
        with pytest.raises(DBAPIError):
            db.execute(text("INSERT INTO numbers (n) VALUES (2)"))
        db.rollback()
        db.execute(text("INSERT INTO numbers (n) VALUES (3)"))
        db.commit()
        assert db.execute(text("SELECT n FROM numbers ORDER BY n")).scalars().all() == [1, 3]


def test_a_read_only_transaction_ends_by_commit_too(engine):
    with Session(engine) as db:
        begin_read_only(db)
        db.execute(text("SELECT 1"))
        db.commit()
        db.execute(text("INSERT INTO numbers (n) VALUES (2)"))
        db.commit()
        assert db.execute(text("SELECT count(*) FROM numbers")).scalar() == 2


def test_only_a_new_transaction_can_be_read_only(engine):
    with Session(engine) as db:
        db.execute(text("SELECT 1"))
        with pytest.raises(RuntimeError):
            begin_read_only(db)


def test_on_sqlite_a_reader_does_not_wait_for_a_writer(tmp_path: Path):
    database = tmp_path / "gate.sqlite3"
    writer_engine = create_db_engine(f"sqlite:///{database}")
    # A short lock timeout: waiting for the gate would raise DatabaseBusy within 0.2 s.
    reader_engine = create_db_engine(f"sqlite:///{database}", DatabaseTimeouts(lock=0.2))
    with writer_engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
        connection.execute(text("INSERT INTO numbers (n) VALUES (1)"))
    writer = writer_engine.connect()
    writer.begin()
    writer.execute(text("INSERT INTO numbers (n) VALUES (2)"))  # holds the gate, uncommitted
    try:
        with Session(reader_engine) as db:
            begin_read_only(db)
            assert db.execute(text("SELECT n FROM numbers")).scalars().all() == [1]
            db.commit()
    finally:
        writer.commit()
        writer.close()
    with Session(reader_engine) as db:
        assert db.execute(text("SELECT count(*) FROM numbers")).scalar() == 2
    writer_engine.dispose()
    reader_engine.dispose()
