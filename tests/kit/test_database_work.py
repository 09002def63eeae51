"""Where a request's database work runs (kit.database_work): on SQLite on the event loop's own
thread, holding the writer gate, which the loop awaits and never blocks on; on PostgreSQL, or
when the work must wait on the network, in a worker thread."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from kit.access_tokens import HttpJwks
from kit.database_work import run_database_work
from kit.db import DatabaseBusy, DatabaseTimeouts, _GroupSync, create_db_engine, held_for_reads
from kit.loop_thread import may_block
from kit.prepared import PreparedRead, PreparedWrite
from tests.support.databases import new_database_url
from tests.support.event_loop import LOOP_THREAD, Ticker, run_loop

LOCK_TIMEOUT = 0.5
T = TypeVar("T")


class _Base(DeclarativeBase):
    pass


class Numbered(_Base):
    """The test table as an ORM entity (a write reads-first work cannot defer)."""

    __tablename__ = "numbers"
    rowid: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(
        new_database_url(backend, request, tmp_path), DatabaseTimeouts(lock=LOCK_TIMEOUT), reads_first=True
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _sqlite_numbers(tmp_path, reads_first=True)


@pytest.fixture
def sqlite_engine_without_reads_first(tmp_path: Path) -> Iterator[Engine]:
    yield from _sqlite_numbers(tmp_path, reads_first=False)


def _sqlite_numbers(tmp_path: Path, *, reads_first: bool) -> Iterator[Engine]:
    engine = create_db_engine(
        f"sqlite:///{tmp_path / 'work.sqlite3'}", DatabaseTimeouts(lock=LOCK_TIMEOUT), reads_first=reads_first
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
    yield engine
    engine.dispose()


def _numbers(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT n FROM numbers ORDER BY n")).scalars())


def _insert(db: Session, n: int) -> str:
    db.execute(text("INSERT INTO numbers (n) VALUES (:n)"), {"n": n})
    db.commit()
    return threading.current_thread().name


def test_on_sqlite_the_work_runs_on_the_loops_thread_and_on_postgresql_in_a_worker(engine, backend):
    async def main() -> str:
        with Session(engine) as db:
            return await run_database_work(db, lambda: _insert(db, 1))

    ran_in = run_loop(main)
    assert (ran_in == LOOP_THREAD) == (backend == "sqlite")
    assert _numbers(engine) == [1]


async def _beside_a_holder(
    engine: Engine, order: list[str], work: Callable[[Session], Awaitable[T]], *, held_value: int = 1
) -> T:
    """Await ``work(db)`` while another session's transaction, which inserted ``held_value``,
    holds the write lock; that one commits 0.1 s later. ``order`` notes the connections
    checked out then, "holder commits" and, once the work returned, "answered"."""
    holder = Session(engine)
    await asyncio.to_thread(holder.execute, text("INSERT INTO numbers (n) VALUES (:n)"), {"n": held_value})

    async def commit_soon() -> None:
        await asyncio.sleep(0.1)
        # The loop's own connection for reads-first reads (kit.db.reads_first_on_the_loop) is not a
        # request's: counted apart, and it must be in no transaction while the work waits.
        for_reads = held_for_reads(engine)
        if for_reads is not None:
            order.append(f"the loop's reads connection in a transaction: {for_reads.in_transaction()}")
        order.append(f"connections out: {engine.pool.checkedout() - (for_reads is not None)}")
        order.append("holder commits")
        await asyncio.to_thread(holder.commit)

    committing = asyncio.create_task(commit_soon())
    try:
        with Session(engine) as db:
            answer = await work(db)
            order.append("answered")
    finally:
        await committing
        holder.close()
    return answer


def test_the_loop_awaits_a_gate_whose_holder_the_loop_itself_must_commit(sqlite_engine):
    """A route's unit of work left open by a worker thread is committed by the loop's next
    job. Blocking the loop on the gate would wait for ever (here: DatabaseBusy); awaiting it
    lets that commit run, and the work follows it on the loop's thread."""
    order: list[str] = []

    async def main() -> str:
        return await _beside_a_holder(
            sqlite_engine,
            order,
            lambda db: run_database_work(db, lambda: order.append("work") or _insert(db, 2)),
        )

    assert run_loop(main) == LOOP_THREAD
    assert order == ["connections out: 1", "holder commits", "work", "answered"]
    assert _numbers(sqlite_engine) == [1, 2]


def test_waiting_for_the_gate_longer_than_the_lock_timeout_is_database_busy(sqlite_engine):
    async def main() -> None:
        with Session(sqlite_engine) as holder, Session(sqlite_engine) as db:
            holder.execute(text("INSERT INTO numbers (n) VALUES (1)"))
            async with Ticker() as ticker:
                with pytest.raises(DatabaseBusy):
                    await run_database_work(db, lambda: _insert(db, 2))
            assert ticker.ticks >= 10, "the loop was blocked while waiting for the gate"
            holder.rollback()

    run_loop(main)
    assert _numbers(sqlite_engine) == []


def test_a_transaction_the_work_leaves_open_keeps_the_gate_until_it_ends(sqlite_engine):
    def write_elsewhere() -> None:
        with Session(sqlite_engine) as other:
            other.execute(text("INSERT INTO numbers (n) VALUES (3)"))
            other.commit()

    async def main() -> None:
        with Session(sqlite_engine) as db:
            await run_database_work(db, lambda: db.execute(text("INSERT INTO numbers (n) VALUES (2)")))
            assert db.in_transaction()
            # This process's gate, not only the lock file that other processes queue on.
            with pytest.raises(DatabaseBusy, match="write lock$"):
                await asyncio.to_thread(write_elsewhere)
            db.commit()
        await asyncio.to_thread(write_elsewhere)

    run_loop(main)
    assert _numbers(sqlite_engine) == [2, 3]


def test_work_that_may_block_is_rolled_back_and_run_again_in_a_worker_thread(sqlite_engine):
    attempts: list[str] = []

    def work(db: Session) -> str:
        attempts.append(threading.current_thread().name)
        db.execute(text("INSERT INTO numbers (n) VALUES (:n)"), {"n": len(attempts)})
        may_block()
        db.commit()
        return threading.current_thread().name

    async def main() -> str:
        with Session(sqlite_engine) as db:
            return await run_database_work(db, lambda: work(db))

    ran_in = run_loop(main)
    assert attempts[0] == LOOP_THREAD
    assert ran_in != LOOP_THREAD and attempts == [LOOP_THREAD, ran_in]
    assert _numbers(sqlite_engine) == [2]  # the first attempt's insert was rolled back


def test_a_session_with_work_in_it_is_not_taken_onto_the_loop(sqlite_engine):
    async def main() -> str:
        with Session(sqlite_engine) as db:
            db.execute(text("INSERT INTO numbers (n) VALUES (1)"))  # its transaction holds the gate
            return await run_database_work(db, lambda: _insert(db, 2))

    assert run_loop(main) != LOOP_THREAD
    assert _numbers(sqlite_engine) == [1, 2]


def test_may_block_outside_work_on_the_loop_does_nothing():
    may_block()

    async def main() -> bool:
        may_block()  # on the loop, but not in work run there
        return True

    assert run_loop(main)


def test_a_jwks_fetch_reached_on_the_loop_is_made_from_a_worker_thread(sqlite_engine):
    fetched_in: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        fetched_in.append(threading.current_thread().name)
        return httpx.Response(200, json={"keys": []})

    source = HttpJwks(
        "https://department.example/jwks",
        ttl_seconds=300,
        min_refresh_seconds=30,
        client=httpx.Client(transport=httpx.MockTransport(answer)),
    )

    async def main() -> dict[str, object]:
        with Session(sqlite_engine) as db:
            return await run_database_work(db, source.keys)

    assert run_loop(main) == {"keys": []}
    assert len(fetched_in) == 1 and fetched_in[0] != LOOP_THREAD


def test_commits_on_the_loop_in_one_turn_share_one_fsync_and_none_returns_before_it(sqlite_engine, fsyncs):
    synced_when_answered: list[int] = []

    async def insert(n: int) -> None:
        with Session(sqlite_engine) as db:
            await run_database_work(db, lambda: _insert(db, n))
        synced_when_answered.append(len(fsyncs))

    async def main() -> None:
        await asyncio.gather(*(insert(n) for n in range(5)))

    run_loop(main)
    assert _numbers(sqlite_engine) == [0, 1, 2, 3, 4]
    assert len(fsyncs) == 1
    assert synced_when_answered == [1] * 5


def test_the_loop_serves_on_while_the_fsync_of_its_commits_runs_and_answers_after_it(
    sqlite_engine, monkeypatch
):
    """The loop's group fsync runs in a thread of its own: the loop is not held up by it (a
    ticker keeps its turns), and the work's answer still waits until the commit is durable."""
    real_fsync = _GroupSync._fsync

    def slow_fsync(self: _GroupSync) -> None:
        time.sleep(0.3)
        real_fsync(self)

    monkeypatch.setattr(_GroupSync, "_fsync", slow_fsync)

    async def main() -> tuple[int, float]:
        async with Ticker() as ticker:
            started = time.monotonic()
            with Session(sqlite_engine) as db:
                await run_database_work(db, lambda: _insert(db, 7))
            waited = time.monotonic() - started
        return ticker.ticks, waited

    ticks, waited = run_loop(main)
    assert waited >= 0.3  # answered once durable
    assert ticks >= 10  # and the loop turned meanwhile
    assert _numbers(sqlite_engine) == [7]


def _lock_file_is_free(path: Path) -> bool:
    """Whether another process could take the writer gate's lock file now."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # and with it the lock, if taken
    return True


def test_work_that_meets_another_processs_transaction_awaits_it_then_runs_on_the_loop(
    sqlite_engine, tmp_path
):
    """The lock file beside the database is the writer gate across processes: taken here on a
    descriptor of its own, as another process's transaction would hold it. The loop goes on
    while a worker thread waits for it; the work then runs on the loop, once."""
    other_process = os.open(tmp_path / "work.sqlite3.writer-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    runs: list[str] = []

    def work(db: Session) -> str:
        runs.append(threading.current_thread().name)
        return _insert(db, 1)

    async def main() -> tuple[str, int]:
        async def other_process_commits() -> None:
            await asyncio.sleep(0.2)
            fcntl.flock(other_process, fcntl.LOCK_UN)
            os.close(other_process)

        async with Ticker() as ticker:
            committing = asyncio.create_task(other_process_commits())
            with Session(sqlite_engine) as db:
                ran_in = await run_database_work(db, lambda: work(db))
            await committing
        return ran_in, ticker.ticks

    ran_in, ticks = run_loop(main)
    assert ran_in == LOOP_THREAD
    assert runs == [LOOP_THREAD], "run once, not rolled back and run again"
    assert ticks >= 10, "the loop waited for the other process"
    assert _numbers(sqlite_engine) == [1]
    assert _lock_file_is_free(tmp_path / "work.sqlite3.writer-lock")


def test_a_request_cancelled_while_waiting_for_another_process_leaves_no_lock_behind(sqlite_engine, tmp_path):
    """A client that hangs up while its work waits for the lock file: the worker thread's
    flock is granted later, and let go at once, or every process would wait for ever."""
    lock_path = tmp_path / "work.sqlite3.writer-lock"
    other_process = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_process, fcntl.LOCK_EX)

    async def main() -> None:
        with Session(sqlite_engine) as db:
            waiting = asyncio.create_task(run_database_work(db, lambda: _insert(db, 1)))
            await asyncio.sleep(0.1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        fcntl.flock(other_process, fcntl.LOCK_UN)
        os.close(other_process)
        for _ in range(100):  # the worker thread is granted the lock, then lets it go
            await asyncio.sleep(0.01)
            if _lock_file_is_free(lock_path):
                break
        with Session(sqlite_engine) as db:
            assert await run_database_work(db, lambda: _insert(db, 2)) == LOOP_THREAD

    run_loop(main)
    assert _numbers(sqlite_engine) == [2]
    assert _lock_file_is_free(lock_path)


def test_a_transaction_the_work_leaves_open_keeps_the_lock_file_until_it_ends(sqlite_engine, tmp_path):
    lock_path = tmp_path / "work.sqlite3.writer-lock"

    async def main() -> None:
        with Session(sqlite_engine) as db:
            await run_database_work(db, lambda: db.execute(text("INSERT INTO numbers (n) VALUES (2)")))
            assert not _lock_file_is_free(lock_path), "another process could write meanwhile"
            db.commit()
        assert _lock_file_is_free(lock_path)

    run_loop(main)
    assert _numbers(sqlite_engine) == [2]


# -- reads-first work (kit.reads_first) -------------------------------------------------------

_NUMBERS = Table("numbers", MetaData(), Column("n", Integer))
_INSERT_NUMBER = PreparedWrite(insert(_NUMBERS), columns=("n",))
_DOUBLE_NUMBERS = PreparedWrite(update(_NUMBERS).values(n=_NUMBERS.c.n * 2))
_READ_NUMBERS = PreparedRead(select(_NUMBERS.c.n).order_by(_NUMBERS.c.n))


def _read_then_insert(db: Session, n: int, calls: list[str]) -> list[int]:
    """Reads what is committed, then inserts ``n`` unless it is there; answers what it read."""
    calls.append(threading.current_thread().name)
    seen = [row[0] for row in _READ_NUMBERS.all(db)]
    if n not in seen:
        _INSERT_NUMBER.run(db, [{"n": n}])
    return seen


def _reads_first(db: Session, work: Callable[[], T]) -> Coroutine[Any, Any, T]:
    return run_database_work(db, work, commit=True, reads_first=True)


def test_reads_first_work_reads_while_another_transaction_writes_then_inserts_after_it(sqlite_engine):
    """Its reads take no write lock: they run, on the loop's thread, while another
    transaction of this process holds it. While its insert waits for that transaction, its
    session holds no connection (other requests' reads need them); the insert is committed
    before the answer."""
    order: list[str] = []

    async def main() -> list[int]:
        return await _beside_a_holder(
            sqlite_engine,
            order,
            lambda db: _reads_first(db, lambda: order.append("reads") or _read_then_insert(db, 2, order)),
        )

    assert run_loop(main) == []  # the snapshot before the other transaction committed
    assert order == [
        "reads",
        LOOP_THREAD,
        "the loop's reads connection in a transaction: False",
        "connections out: 1",
        "holder commits",
        "answered",
    ]
    assert _numbers(sqlite_engine) == [1, 2]


def test_reads_first_reads_share_the_loops_connection_which_work_that_raises_leaves_clean(
    sqlite_engine,
):
    """On SQLite the reads of reads-first work run on one connection the loop keeps (not a
    pooled one per request). Work that raises is rolled back on the loop at once: the
    connection is in no transaction for the next request, whose reads run on it."""

    class Refused(Exception):
        pass

    def reads_then_raises(db: Session) -> None:
        _READ_NUMBERS.all(db)
        raise Refused

    async def main() -> tuple[bool, bool, list[int], int]:
        failed = Session(sqlite_engine)  # its unit of work ends later, as a route's does
        with pytest.raises(Refused):
            await _reads_first(failed, lambda: reads_then_raises(failed))
        held = held_for_reads(sqlite_engine)
        assert held is not None
        left_in_a_transaction = held.in_transaction()
        reads_on: list[Connection] = []

        def reads_then_inserts(db: Session) -> list[int]:
            reads_on.append(db.connection())
            return _read_then_insert(db, 3, [])

        with Session(sqlite_engine) as db:
            answer = await _reads_first(db, lambda: reads_then_inserts(db))
        same_connection = reads_on == [held] and held_for_reads(sqlite_engine) is held
        failed.close()
        return left_in_a_transaction, same_connection, answer, sqlite_engine.pool.checkedout()

    left_in_a_transaction, same_connection, answer, checked_out = run_loop(main)
    assert not left_in_a_transaction
    assert same_connection
    assert answer == []
    assert checked_out == 1  # the loop's own, and no request's
    assert _numbers(sqlite_engine) == [3]


def test_reads_first_reads_on_sqlite_begin_no_transaction_of_the_sessions_own_which_joins_theirs(
    sqlite_engine,
):
    """The reads' transaction is begun on the loop's connection, not through the session:
    prepared reads leave the session outside any transaction of its own; a statement the work
    runs through the session joins the reads' transaction on that same connection. Afterwards
    the session is bound to its engine again, in no transaction, and the connection is free."""

    async def main() -> dict[str, object]:
        seen: dict[str, object] = {}

        def work(db: Session) -> list[int]:
            held = held_for_reads(sqlite_engine)
            assert held is not None
            _READ_NUMBERS.all(db)
            seen["session began a transaction for a prepared read"] = db.in_transaction()
            seen["the loop's connection is in the reads' transaction"] = held.in_transaction()
            seen["the session's own statement"] = db.execute(select(_NUMBERS.c.n)).all()
            seen["the session joined the loop's connection"] = db.connection() is held
            return _read_then_insert(db, 4, [])

        with Session(sqlite_engine) as db:
            seen["answer"] = await _reads_first(db, lambda: work(db))
            seen["bound to its engine again"] = db.get_bind() is sqlite_engine
            seen["in a transaction after"] = db.in_transaction()
        held = held_for_reads(sqlite_engine)
        seen["the loop's connection in a transaction after"] = held is not None and held.in_transaction()
        return seen

    assert run_loop(main) == {
        "session began a transaction for a prepared read": False,
        "the loop's connection is in the reads' transaction": True,
        "the session's own statement": [],
        "the session joined the loop's connection": True,
        "answer": [],
        "bound to its engine again": True,
        "in a transaction after": False,
        "the loop's connection in a transaction after": False,
    }
    assert _numbers(sqlite_engine) == [4]


def test_the_inserts_reads_first_work_put_off_are_written_on_the_loops_own_connection(sqlite_engine):
    """The turn's batch of inserts is written on the connection the loop keeps for the reads
    (kit.db.write_transaction_on_the_loop): no other connection is checked out for it, and
    the connection is in no transaction once the answer is given."""
    inserted_on: list[Connection] = []
    checkouts: list[int] = []

    def on_statement(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserted_on.append(connection)

    event.listen(sqlite_engine, "before_cursor_execute", on_statement)
    event.listen(sqlite_engine, "checkout", lambda *_: checkouts.append(1))

    async def main() -> tuple[list[int], Connection | None, bool]:
        with Session(sqlite_engine) as db:
            answer = await _reads_first(db, lambda: _read_then_insert(db, 5, []))
        held = held_for_reads(sqlite_engine)
        return answer, held, held is not None and held.in_transaction()

    answer, held, left_in_a_transaction = run_loop(main)
    assert answer == []
    assert held is not None and inserted_on == [held]
    assert checkouts == [1]  # the loop's connection, once
    assert not left_in_a_transaction
    assert _numbers(sqlite_engine) == [5]


def test_disposing_the_engine_closes_the_connection_a_living_loop_keeps(tmp_path):
    engine = next(_sqlite_numbers(tmp_path, reads_first=True))

    async def main() -> tuple[asyncio.AbstractEventLoop, Connection | None, int]:
        with Session(engine) as db:
            await _reads_first(db, lambda: _read_then_insert(db, 1, []))
        return asyncio.get_running_loop(), held_for_reads(engine), engine.pool.checkedout()

    loop, held, checked_out = run_loop(main)  # the loop kept alive: only the disposal closes it
    assert held is not None and checked_out == 1
    driver = held.connection.driver_connection
    engine.dispose()
    assert held.closed
    with pytest.raises(sqlite3.ProgrammingError):
        driver.execute("SELECT 1")
    del loop


def test_a_loop_that_ends_gives_its_reads_connection_back_to_the_pool(tmp_path):
    engine = next(_sqlite_numbers(tmp_path, reads_first=True))

    async def main() -> int:
        with Session(engine) as db:
            await _reads_first(db, lambda: _read_then_insert(db, 1, []))
        return engine.pool.checkedout()

    assert run_loop(main) == 1
    gc.collect()  # the loop, ended, is collected whenever its last reference goes
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_reads_first_work_on_an_engine_made_without_it_runs_the_usual_way(
    sqlite_engine_without_reads_first,
):
    """One process gains nothing from it (``egate serve --workers N`` turns it on): the work
    then waits for the gate before its first read, and reads what the holder committed."""
    engine = sqlite_engine_without_reads_first
    order: list[str] = []

    async def main() -> list[int]:
        return await _beside_a_holder(
            engine,
            order,
            lambda db: _reads_first(db, lambda: order.append("reads") or _read_then_insert(db, 2, order)),
        )

    assert run_loop(main) == [1]
    assert order == ["connections out: 1", "holder commits", "reads", LOOP_THREAD, "answered"]
    assert _numbers(engine) == [1, 2]


def test_reads_first_work_that_inserts_nothing_never_waits_for_the_write_lock(sqlite_engine):
    with sqlite_engine.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (0)"))

    async def main() -> list[int]:
        with Session(sqlite_engine) as holder, Session(sqlite_engine) as db:
            await asyncio.to_thread(holder.execute, text("INSERT INTO numbers (n) VALUES (1)"))
            seen = await _reads_first(db, lambda: _read_then_insert(db, 0, []))  # 0 is there
            await asyncio.to_thread(holder.rollback)
        return seen

    assert run_loop(main) == [0]
    assert _numbers(sqlite_engine) == [0]


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda db: _DOUBLE_NUMBERS.run(db, [{}]), id="an UPDATE"),
        pytest.param(lambda db: db.execute(text("DELETE FROM numbers WHERE n = 1")), id="SQL of its own"),
        pytest.param(lambda db: db.add(Numbered(n=5)), id="an ORM object"),
        pytest.param(
            lambda db: (db.commit(), db.execute(text("INSERT INTO numbers (n) VALUES (9)"))),
            id="a transaction of its own",
        ),
    ],
)
def test_reads_first_work_that_writes_more_than_inserts_runs_again_as_one_write_transaction(
    sqlite_engine, write
):
    with sqlite_engine.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (1)"))
    calls: list[str] = []

    def work(db: Session) -> list[int]:
        seen = _read_then_insert(db, 3, calls)
        write(db)
        return seen

    async def main() -> list[int]:
        with Session(sqlite_engine) as db:
            return await _reads_first(db, lambda: work(db))

    assert run_loop(main) == [1]
    assert len(calls) == 2, "once reads-first, then again the usual way"
    after = _numbers(sqlite_engine)
    assert 3 in after or 6 in after  # its insert is written once, with its other write
    assert len(after) == len(set(after))


def test_an_insert_a_concurrent_write_makes_fail_runs_again_the_usual_way(sqlite_engine):
    """Between the reads and the insert another transaction wrote the same unique row: the
    work runs again, from its reads, and sees it."""
    with sqlite_engine.begin() as connection:
        connection.execute(text("CREATE UNIQUE INDEX numbers_once ON numbers (n)"))
    calls: list[str] = []

    async def main() -> list[int]:
        return await _beside_a_holder(
            sqlite_engine,
            [],
            lambda db: _reads_first(db, lambda: _read_then_insert(db, 7, calls)),
            held_value=7,
        )

    assert run_loop(main) == [7]  # what the second run read
    assert calls == [LOOP_THREAD, LOOP_THREAD]
    assert _numbers(sqlite_engine) == [7]


def test_reads_first_on_either_backend_answers_and_commits_as_the_usual_way(engine, backend):
    calls: list[str] = []

    async def main() -> list[int]:
        with Session(engine) as db:
            return await _reads_first(db, lambda: _read_then_insert(db, 4, calls))

    assert run_loop(main) == []
    assert _numbers(engine) == [4]
    assert (calls == [LOOP_THREAD]) == (backend == "sqlite")  # PostgreSQL: in a worker thread
