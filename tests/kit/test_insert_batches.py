"""The inserts of reads-first work, written for every request of one turn of the event loop in
one write transaction (kit.insert_batches): on SQLite on the loop's thread under the writer
gate, a savepoint per request; on PostgreSQL in a worker thread, one batch at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select, text
from sqlalchemy.orm import Session

from kit import insert_batches
from kit.database_work import run_database_work
from kit.db import DatabaseBusy, DatabaseTimeouts, _GroupSync, create_db_engine
from kit.prepared import PreparedRead, PreparedWrite
from tests.support.databases import new_database_url
from tests.support.event_loop import run_loop

LOCK_TIMEOUT = 0.5
T = TypeVar("T")

_NUMBERS = Table("numbers", MetaData(), Column("n", Integer))
_INSERT_NUMBER = PreparedWrite(insert(_NUMBERS), columns=("n",))
_READ_NUMBERS = PreparedRead(select(_NUMBERS.c.n).order_by(_NUMBERS.c.n))


def _numbers_engine(url: str) -> Iterator[Engine]:
    """A reads-first engine on ``url`` with the table ``numbers``, each number once."""
    engine = create_db_engine(url, DatabaseTimeouts(lock=LOCK_TIMEOUT), reads_first=True)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
        connection.execute(text("CREATE UNIQUE INDEX numbers_once ON numbers (n)"))
    yield engine
    engine.dispose()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _numbers_engine(f"sqlite:///{tmp_path / 'batches.sqlite3'}")


@pytest.fixture
def postgresql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from _numbers_engine(new_database_url("postgresql", request, tmp_path))


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
    engine, statements, fsyncs
):
    synced_when_answered: list[int] = []

    async def answered(n: int) -> list[int]:
        seen = await _request(engine, n)
        synced_when_answered.append(len(fsyncs))
        return seen

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(answered(n) for n in range(5)))

    assert run_loop(main) == [[]] * 5  # each read before any of them inserted
    writes = [
        s for s in statements if s.startswith(("BEGIN IMMEDIATE", "INSERT", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert writes.count("BEGIN IMMEDIATE") == 1
    began = writes.index("BEGIN IMMEDIATE")
    # One savepoint for the batch's one write of the five rows (SQLite traces each row's step).
    shape = [s.split()[0] for s in writes[began:]]
    assert shape == ["BEGIN", "SAVEPOINT", *["INSERT"] * 5, "RELEASE", "COMMIT"]
    assert _numbers(engine) == [0, 1, 2, 3, 4]
    assert len(fsyncs) == 1
    assert synced_when_answered == [1] * 5


def _inserts_run(engine: Engine) -> list[int]:
    """The number of rows of each INSERT SQLAlchemy's cursor events see on ``engine`` from now
    on (an executemany is one INSERT of several rows)."""
    runs: list[int] = []

    def seen(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool) -> None:
        if sql.startswith("INSERT"):
            runs.append(len(parameters) if many else 1)

    event.listen(engine, "before_cursor_execute", seen)
    return runs


def test_the_rows_the_requests_of_a_batch_insert_one_way_are_written_in_one_execution(engine):
    runs = _inserts_run(engine)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(_request(engine, n) for n in range(4)))

    assert run_loop(main) == [[]] * 4
    assert runs == [4]
    assert _numbers(engine) == [0, 1, 2, 3]


_INSERT_NUMBER_TOO = PreparedWrite(insert(_NUMBERS), columns=("n",))  # a second writer


def _insert_with(db: Session, writers: list[PreparedWrite], numbers: list[int]) -> None:
    _READ_NUMBERS.all(db)
    for writer, n in zip(writers, numbers, strict=True):
        writer.run(db, [{"n": n}])


def _run_requests(engine: Engine, requests: list[tuple[list[PreparedWrite], list[int]]]) -> None:
    async def request(writers: list[PreparedWrite], numbers: list[int]) -> None:
        with Session(engine) as db:
            work = lambda: _insert_with(db, writers, numbers)  # noqa: E731
            await run_database_work(db, work, commit=True, reads_first=True)

    async def main() -> None:
        await asyncio.gather(*(request(writers, numbers) for writers, numbers in requests))

    run_loop(main)


def test_writers_a_batch_writes_in_the_order_every_request_of_it_inserts_with_them(engine):
    runs = _inserts_run(engine)
    first, second = _INSERT_NUMBER, _INSERT_NUMBER_TOO
    _run_requests(engine, [([first, second], [1, 2]), ([second], [3]), ([first, second], [4, 5])])
    assert runs == [2, 3], "the first writer's rows, then the second's"
    assert _numbers(engine) == [1, 2, 3, 4, 5]


def test_requests_that_insert_with_two_writers_in_opposite_orders_are_written_each_in_its_own(
    engine, statements
):
    """Writer by writer would put one request's second insert before its first (which a
    foreign key may need first): each request's inserts go in its own order instead."""
    runs = _inserts_run(engine)
    first, second = _INSERT_NUMBER, _INSERT_NUMBER_TOO
    _run_requests(engine, [([first, second], [1, 2]), ([second, first], [3, 4])])
    assert runs == [1, 1, 1, 1]
    assert statements.count("SAVEPOINT egate_request") == 2
    assert _numbers(engine) == [1, 2, 3, 4]


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


def test_on_sqlite_the_requests_that_end_their_reads_while_a_batch_is_synced_share_the_next(
    engine, statements, monkeypatch
):
    """One batch in flight per loop until it is durable: requests whose reads end, turn after
    turn, during its fsync are written together next, in one transaction."""
    real_fsync = _GroupSync._fsync

    def slow_fsync(self: _GroupSync) -> None:
        time.sleep(0.3)
        real_fsync(self)

    monkeypatch.setattr(_GroupSync, "_fsync", slow_fsync)

    async def later(n: int) -> list[int]:
        await asyncio.sleep(0.05 * n)  # each in a turn of its own, during the first fsync
        return await _request(engine, n)

    async def main() -> list[list[int]]:
        return await asyncio.gather(_request(engine, 0), *(later(n) for n in (1, 2, 3)))

    answers = run_loop(main)
    assert answers[0] == []
    assert statements.count("BEGIN IMMEDIATE") == 2
    assert _numbers(engine) == [0, 1, 2, 3]


def _commits(engine: Engine) -> list[str]:
    """Each COMMIT SQLAlchemy sends on ``engine`` from now on: the transactions of the
    requests' reads and of the batches."""
    commits: list[str] = []
    event.listen(engine, "commit", lambda _connection: commits.append("commit"))
    return commits


async def _while_a_batch_is_in_flight(
    engine: Engine, requests: list[Coroutine[Any, Any, T]], meanwhile: Any = None
) -> list[T]:
    """Run ``requests`` while this loop's batch for ``engine`` is being written (its lock held
    here): they end their reads and gather for the next batch, which is written once every
    one of them has joined it (and ``meanwhile`` has run)."""
    loop = asyncio.get_running_loop()
    in_flight = insert_batches._in_flight.setdefault(loop, {}).setdefault(engine, asyncio.Lock())
    async with in_flight:
        started = [asyncio.create_task(request) for request in requests]
        for _ in range(500):
            gathering = insert_batches._gathering.get(loop, {}).get(engine)
            if gathering is not None and len(gathering.requests) == len(requests):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the requests never gathered in one batch")
        if meanwhile is not None:
            await meanwhile()
    return await asyncio.gather(*started)


def test_on_postgresql_requests_gathered_while_a_batch_is_written_share_the_next_ones_commit(
    postgresql_engine,
):
    commits = _commits(postgresql_engine)

    async def main() -> list[list[int]]:
        return await _while_a_batch_is_in_flight(
            postgresql_engine, [_request(postgresql_engine, n) for n in range(5)]
        )

    assert run_loop(main) == [[]] * 5
    assert len(commits) == 5 + 1, "each request's reads, then one batch for all their inserts"
    assert _numbers(postgresql_engine) == [0, 1, 2, 3, 4]


def test_on_postgresql_an_insert_a_key_refuses_sends_its_batch_to_run_again_each_alone(postgresql_engine):
    """No savepoints there: after the requests read, another transaction writes the 7 one of
    them inserts; the batch writes nothing, and each request runs again the usual way: the
    one finds the 7 and inserts nothing, the other writes its rows."""

    async def request(n: int, own: int) -> list[int]:
        with Session(postgresql_engine) as db:
            work = lambda: _read_then_insert_two(db, n, own)  # noqa: E731
            return await run_database_work(db, work, commit=True, reads_first=True)

    async def write_7_elsewhere() -> None:
        def write() -> None:
            with postgresql_engine.begin() as connection:
                connection.execute(text("INSERT INTO numbers (n) VALUES (7)"))

        await asyncio.to_thread(write)

    async def main() -> list[list[int]]:
        return await _while_a_batch_is_in_flight(
            postgresql_engine, [request(7, 71), request(9, 91)], meanwhile=write_7_elsewhere
        )

    found_7, _ = run_loop(main)
    assert 7 in found_7, "run again after the batch failed: it read the 7 written meanwhile"
    assert _numbers(postgresql_engine) == [7, 9, 91]


def test_on_postgresql_the_rows_of_a_batch_inserted_one_way_go_in_one_execution(postgresql_engine):
    runs = _inserts_run(postgresql_engine)

    async def main() -> list[list[int]]:
        return await _while_a_batch_is_in_flight(
            postgresql_engine, [_request(postgresql_engine, n) for n in range(4)]
        )

    assert run_loop(main) == [[]] * 4
    assert runs == [4]
    assert _numbers(postgresql_engine) == [0, 1, 2, 3]


def test_on_postgresql_work_that_reads_nothing_takes_no_connection_for_its_reads(postgresql_engine):
    """Its transaction begins with its first statement: without one, no connection is taken
    from the pool (each checkout pays the pool's ping, a round trip) but the batch's."""
    checkouts: list[str] = []
    event.listen(postgresql_engine, "checkout", lambda *_: checkouts.append("checkout"))

    async def request(n: int) -> None:
        with Session(postgresql_engine) as db:
            work = lambda: _INSERT_NUMBER.run(db, [{"n": n}])  # noqa: E731
            await run_database_work(db, work, commit=True, reads_first=True)

    async def main() -> None:
        for n in (1, 2, 3):  # one after another: a batch each
            await request(n)

    run_loop(main)
    assert len(checkouts) == 3, "the batches' connections only"
    assert _numbers(postgresql_engine) == [1, 2, 3]
