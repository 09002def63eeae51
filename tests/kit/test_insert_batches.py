"""The inserts of reads-first work, written for every request of one turn of the event loop in
one SQLite write transaction (kit.insert_batches). On PostgreSQL reads-first work runs in a
worker thread and writes its own inserts (tests/kit/test_database_work.py covers both)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select, text
from sqlalchemy.orm import Session

from kit.database_work import run_database_work
from kit.db import DatabaseBusy, DatabaseTimeouts, _GroupSync, create_db_engine
from kit.prepared import PreparedRead, PreparedWrite
from tests.support.event_loop import run_loop

LOCK_TIMEOUT = 0.5

_NUMBERS = Table("numbers", MetaData(), Column("n", Integer))
_INSERT_NUMBER = PreparedWrite(insert(_NUMBERS), columns=("n",))
_READ_NUMBERS = PreparedRead(select(_NUMBERS.c.n).order_by(_NUMBERS.c.n))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(
        f"sqlite:///{tmp_path / 'batches.sqlite3'}", DatabaseTimeouts(lock=LOCK_TIMEOUT), reads_first=True
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
        connection.execute(text("CREATE UNIQUE INDEX numbers_once ON numbers (n)"))
    yield engine
    engine.dispose()


@pytest.fixture
def statements(engine: Engine) -> list[str]:
    """Every statement SQLite runs from now on, BEGIN and COMMIT included (the driver's trace)."""
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(engine, "connect", trace)
    engine.dispose()  # the pooled connections were made before the trace
    return seen


def _numbers(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT n FROM numbers ORDER BY n")).scalars())


def _read_then_insert(db: Session, n: int) -> list[int]:
    """Reads what is committed, then inserts ``n`` unless it is there; answers what it read."""
    seen = [row[0] for row in _READ_NUMBERS.all(db)]
    if n not in seen:
        _INSERT_NUMBER.run(db, [{"n": n}])
    return seen


async def _request(engine: Engine, n: int) -> list[int]:
    with Session(engine) as db:
        return await run_database_work(db, lambda: _read_then_insert(db, n), commit=True, reads_first=True)


def test_the_requests_of_one_turn_insert_in_one_transaction_made_durable_before_any_answer(
    engine, statements, monkeypatch
):
    fsyncs: list[int] = []
    real_fsync = _GroupSync._fsync

    def counted(self: _GroupSync) -> None:
        real_fsync(self)
        fsyncs.append(1)

    monkeypatch.setattr(_GroupSync, "_fsync", counted)
    synced_when_answered: list[int] = []

    async def answered(n: int) -> list[int]:
        seen = await _request(engine, n)
        synced_when_answered.append(len(fsyncs))
        return seen

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(answered(n) for n in range(5)))

    assert run_loop(main) == [[]] * 5  # each read before any of them inserted
    writes = [s for s in statements if s.startswith(("BEGIN IMMEDIATE", "INSERT", "COMMIT", "SAVEPOINT"))]
    assert writes.count("BEGIN IMMEDIATE") == 1
    began = writes.index("BEGIN IMMEDIATE")
    assert [s.split()[0] for s in writes[began:]] == ["BEGIN", *["SAVEPOINT", "INSERT"] * 5, "COMMIT"]
    assert _numbers(engine) == [0, 1, 2, 3, 4]
    assert len(fsyncs) == 1
    assert synced_when_answered == [1] * 5


def _read_then_insert_two(db: Session, n: int, own: int) -> list[int]:
    """Reads what is committed, then, unless ``n`` is there, inserts ``own`` and ``n``."""
    seen = [row[0] for row in _READ_NUMBERS.all(db)]
    if n not in seen:
        _INSERT_NUMBER.run(db, [{"n": own}])
        _INSERT_NUMBER.run(db, [{"n": n}])
    return seen


def test_an_insert_a_key_refuses_rolls_back_that_request_alone_which_runs_again(engine):
    """Two requests of one turn both read no 7 and insert a row of their own and then 7: the
    second's 7 breaks the unique index, so its own row goes too (its savepoint) and it runs
    again the usual way, finding the first's 7; a third request of the batch keeps its rows."""

    async def request(n: int, own: int) -> list[int]:
        with Session(engine) as db:
            work = lambda: _read_then_insert_two(db, n, own)  # noqa: E731
            return await run_database_work(db, work, commit=True, reads_first=True)

    async def main() -> list[list[int]]:
        return await asyncio.gather(request(7, 71), request(7, 72), request(8, 81))

    first, second, third = run_loop(main)
    assert first == [] and third == []
    assert second == [7, 8, 71, 81], "run again after the batch: it read what the batch wrote"
    assert _numbers(engine) == [7, 8, 71, 81]


def test_a_batch_whose_transaction_fails_fails_every_request_in_it_and_writes_nothing(engine):
    """Another transaction holds the write lock past the lock timeout: the batch cannot begin,
    and each of its requests gets the error rather than an answer."""

    async def main() -> list[object]:
        with Session(engine) as holder:
            await asyncio.to_thread(holder.execute, text("INSERT INTO numbers (n) VALUES (1)"))
            outcomes = await asyncio.gather(*(_request(engine, n) for n in (2, 3)), return_exceptions=True)
            await asyncio.to_thread(holder.rollback)
        return outcomes

    outcomes = run_loop(main)
    assert [type(o) for o in outcomes] == [DatabaseBusy, DatabaseBusy]
    assert _numbers(engine) == []


def test_requests_of_the_next_turn_go_in_the_next_batch(engine, statements):
    async def main() -> None:
        await _request(engine, 1)
        await _request(engine, 2)

    run_loop(main)
    assert statements.count("BEGIN IMMEDIATE") == 2
    assert _numbers(engine) == [1, 2]
