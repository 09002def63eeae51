"""Reads run through the driver (kit.prepared) give what Session.execute gives, on both
backends: the same values through the same type processors, inside the session's
transaction, after its pending changes are flushed, and SQLAlchemy's errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, registry

from kit.db import UTCDateTime, create_db_engine
from kit.prepared import PreparedRead
from tests.support.databases import new_database_url

METADATA = MetaData()
THINGS = Table(
    "prepared_things",
    METADATA,
    Column("id", String(20), primary_key=True),
    Column("at", UTCDateTime, nullable=True),
    Column("data", JSON, nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("n", Integer, nullable=True),
)


class Thing:  # mapped, for a pending ORM change
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


registry().map_imperatively(Thing, THINGS)
NOW = datetime(2026, 12, 2, 13, 30, 15, 123456, tzinfo=UTC)
ROWS = [
    {"id": "full", "at": NOW, "data": {"scope": ["openid", "profile"], "n": 1}, "flag": True, "n": 7},
    {"id": "empty", "at": None, "data": None, "flag": None, "n": None},
    {"id": "false", "at": NOW - timedelta(days=400), "data": [], "flag": False, "n": 0},
]
BY_ID = select(THINGS).where(THINGS.c.id == bindparam("id"))
AFTER = select(THINGS.c.id, THINGS.c.at).where(THINGS.c.at > bindparam("since")).order_by(THINGS.c.id)
LITERAL = select(THINGS.c.data, THINGS.c.flag).where(THINGS.c.id == "full", THINGS.c.n > 1)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(THINGS.insert(), ROWS)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("statement", "parameters"),
    [
        (BY_ID, {"id": "full"}),
        (BY_ID, {"id": "empty"}),
        (BY_ID, {"id": "false"}),
        (BY_ID, {"id": "missing"}),
        (AFTER, {"since": NOW - timedelta(days=1)}),
        (AFTER, {"since": NOW + timedelta(days=1)}),
        (LITERAL, {}),
    ],
)
def test_a_prepared_read_gives_what_session_execute_gives(engine, statement, parameters):
    read = PreparedRead(statement)
    with Session(engine) as db:
        expected = db.execute(statement, parameters).first()
        got = read.first(db, parameters)
        assert got == (tuple(expected) if expected is not None else None)
        if got is not None:
            assert [type(value) for value in got] == [type(value) for value in expected]
        assert read.first(db, parameters) == got  # compiled once, run again


def test_datetimes_come_back_aware_and_utc(engine):
    with Session(engine) as db:
        row = PreparedRead(BY_ID).first(db, {"id": "full"})
    assert row is not None and row[1] == NOW and row[1].tzinfo is not None


def test_it_reads_inside_the_sessions_transaction_after_flushing_its_changes(engine):
    read = PreparedRead(select(THINGS.c.n).where(THINGS.c.id == bindparam("id")))
    with Session(engine) as db:
        db.execute(THINGS.update().where(THINGS.c.id == "full").values(n=8))
        assert read.scalar(db, {"id": "full"}) == 8  # the transaction's own write
        db.rollback()
        assert read.scalar(db, {"id": "full"}) == 7
        db.add(Thing(id="pending", n=3))  # not yet flushed
        assert read.scalar(db, {"id": "pending"}) == 3
        db.rollback()


def test_a_missing_parameter_is_refused_before_the_database_is_asked(engine):
    with Session(engine) as db, pytest.raises(KeyError, match="since"):
        PreparedRead(AFTER).first(db, {})


def test_a_driver_error_is_raised_as_sqlalchemys(engine):
    read = PreparedRead(BY_ID)
    with Session(engine) as db:
        read.first(db, {"id": "full"})
        db.commit()
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE prepared_things"))
    with Session(engine) as db, pytest.raises(DBAPIError):
        read.first(db, {"id": "full"})


def test_sqlalchemys_cursor_events_see_the_statement(engine):
    seen: list[tuple[str, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(("before", statement.split()[0]))

    def after(conn, cursor, statement, parameters, context, executemany):
        seen.append(("after", statement.split()[0]))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with Session(engine) as db:
            PreparedRead(BY_ID).first(db, {"id": "full"})
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert ("before", "SELECT") in seen and ("after", "SELECT") in seen
