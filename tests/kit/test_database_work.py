"""Where a request's database work runs (kit.database_work): on SQLite on the event loop's own
thread, holding the writer gate, which the loop awaits and never blocks on; on PostgreSQL, or
when the work must wait on the network, in a worker thread."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from kit.access_tokens import HttpJwks
from kit.database_work import run_database_work
from kit.db import DatabaseBusy, DatabaseTimeouts, create_db_engine
from kit.loop_thread import may_block
from tests.support.databases import new_database_url
from tests.support.event_loop import LOOP_THREAD, Ticker, run_loop

LOCK_TIMEOUT = 0.5


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(
        new_database_url(backend, request, tmp_path), DatabaseTimeouts(lock=LOCK_TIMEOUT)
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER)"))
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'work.sqlite3'}", DatabaseTimeouts(lock=LOCK_TIMEOUT))
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


def test_the_loop_awaits_a_gate_whose_holder_the_loop_itself_must_commit(sqlite_engine):
    """A route's unit of work left open by a worker thread is committed by the loop's next
    job. Blocking the loop on the gate would wait for ever (here: DatabaseBusy); awaiting it
    lets that commit run, and the work follows it on the loop's thread."""
    order: list[str] = []

    async def main() -> str:
        holder = Session(sqlite_engine)
        await asyncio.to_thread(holder.execute, text("INSERT INTO numbers (n) VALUES (1)"))

        async def commit_soon() -> None:
            await asyncio.sleep(0.05)
            order.append("holder commits")
            await asyncio.to_thread(holder.commit)

        committing = asyncio.create_task(commit_soon())
        with Session(sqlite_engine) as db:
            ran_in = await run_database_work(db, lambda: order.append("work") or _insert(db, 2))
        await committing
        holder.close()
        return ran_in

    assert run_loop(main) == LOOP_THREAD
    assert order == ["holder commits", "work"]
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


def test_commits_on_the_loop_in_one_turn_share_one_fsync_and_none_returns_before_it(
    sqlite_engine, monkeypatch
):
    from kit.db import _GroupSync

    fsyncs: list[int] = []
    real_fsync = _GroupSync._fsync

    def counted(self: _GroupSync) -> None:
        real_fsync(self)
        fsyncs.append(1)

    monkeypatch.setattr(_GroupSync, "_fsync", counted)
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
