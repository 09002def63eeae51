"""Reads and writes run through the driver (kit.prepared) give and store what Session.execute
does, on both backends: the same values through the same type processors, inside the session's
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
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, registry

from kit.db import UTCDateTime, create_db_engine
from kit.prepared import PreparedRead, PreparedWrite
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


# -- writes --------------------------------------------------------------------------------

DEFAULTED = Table(
    "prepared_defaulted",
    METADATA,
    Column("id", String(20), primary_key=True),
    Column("data", JSON, default=list),
    Column("n", Integer, onupdate=lambda: 1),
)
INSERT_THINGS = PreparedWrite(insert(THINGS), columns=("id", "at", "data", "flag", "n"))
SET_N_IF = PreparedWrite(
    update(THINGS)
    .where(THINGS.c.id == bindparam("key"), THINGS.c.n == bindparam("was"))
    .values(n=bindparam("to"))
)


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as db:
        return [tuple(row) for row in db.execute(select(THINGS).order_by(THINGS.c.id))]


@pytest.mark.parametrize("count", [1, 3])
def test_a_prepared_insert_stores_what_session_execute_stores(engine, count):
    written = [{**row, "id": f"w-{row['id']}"} for row in ROWS[:count]]
    with Session(engine) as db:
        assert INSERT_THINGS.run(db, written) == count
        db.commit()
    expected_engine_rows = [{**row, "id": f"s-{row['id']}"} for row in ROWS[:count]]
    with Session(engine) as db:
        db.execute(insert(THINGS), expected_engine_rows)
        db.commit()
    stored = {row[0]: row[1:] for row in _stored(engine)}
    for row in ROWS[:count]:
        assert stored[f"w-{row['id']}"] == stored[f"s-{row['id']}"]
        assert stored[f"w-{row['id']}"] == (row["at"], row["data"], row["flag"], row["n"])


def test_a_prepared_update_says_how_many_rows_it_changed(engine):
    with Session(engine) as db:
        assert SET_N_IF.run(db, [{"key": "full", "was": 7, "to": 8}]) == 1
        assert SET_N_IF.run(db, [{"key": "full", "was": 7, "to": 9}]) == 0  # already moved on
        db.commit()
    assert dict((row[0], row[4]) for row in _stored(engine))["full"] == 8


def test_a_prepared_write_is_part_of_the_sessions_transaction(engine):
    with Session(engine) as db:
        INSERT_THINGS.run(db, [{"id": "undone", "at": None, "data": None, "flag": None, "n": None}])
        db.rollback()
    assert "undone" not in [row[0] for row in _stored(engine)]


def test_a_write_that_leaves_computed_values_out_is_refused(engine):
    with Session(engine) as db:
        with pytest.raises(ValueError, match="data"):
            PreparedWrite(insert(DEFAULTED), columns=("id", "n")).run(db, [{"id": "a", "n": 1}])
        with pytest.raises(ValueError, match="n"):
            PreparedWrite(update(DEFAULTED).values(data=bindparam("data"))).run(db, [{"data": []}])
    with pytest.raises(ValueError):
        PreparedWrite(insert(THINGS))  # an INSERT names its columns


def test_a_driver_error_in_a_write_is_raised_as_sqlalchemys(engine):
    with Session(engine) as db, pytest.raises(IntegrityError):
        INSERT_THINGS.run(db, [{"id": "full", "at": None, "data": None, "flag": None, "n": None}])


def test_sqlalchemys_cursor_events_see_the_write(engine):
    seen: list[tuple[str, bool]] = []

    def before(_conn, _cursor, statement, _parameters, _context, executemany):
        seen.append((statement.split()[0], executemany))

    event.listen(engine, "before_cursor_execute", before)
    with Session(engine) as db:
        INSERT_THINGS.run(db, [{**ROWS[1], "id": "e1"}, {**ROWS[1], "id": "e2"}])
        SET_N_IF.run(db, [{"key": "full", "was": 7, "to": 8}])
        db.commit()
    assert seen == [("INSERT", True), ("UPDATE", False)]
