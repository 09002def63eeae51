"""Where a request's synchronous database work runs: on the event loop's own thread when that
cannot wait on anything, else in a worker thread.

On SQLite a hot path's statements take microseconds, and the hop into a worker thread cost
more than they did: at ten concurrent requests, the handover and the GIL passing between the
loop and the workers were about a third of a token grant's CPU (measured in one process,
docs/performance.md). Node's SQLite drivers run on the loop for the same reason. So the work
runs on the loop holding the process's SQLite writer gate (``kit.db``), which the loop
awaits, never blocks on, so the work's transactions wait for nothing in this process.

It goes to a worker thread instead:
- on PostgreSQL, whose every statement is a network round trip (reads-first work's inserts
  are then written with this turn's others, ``kit.insert_batches``);
- when the session already has work in it, whose transaction or pending changes are not this
  work's to take over;
- when the work reaches a call that may block for long (``kit.loop_thread.may_block``:
  fetching a client's JWK Set, the guessing defence's pause). The work is rolled back and
  run again from the start in a worker thread, so such a call must come before the work's
  first commit.

Another process's SQLite transaction (``egate serve --workers N``) is waited for before the
work starts, in a worker thread while the loop goes on (``kit.db._WriterGate.hold_on_loop``);
the work then runs on the loop.

Work that writes nothing but inserts when it succeeds (userinfo, introspection, a
client_credentials grant) may run reads-first (``kit.reads_first``): on the loop's thread, in a
read transaction that holds neither the gate nor the lock file, its inserts then written with
those of the other requests of the same turn of the loop, in one short write transaction
(``kit.insert_batches``). With several worker processes on SQLite, their reads then run side
by side and only the inserts queue.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kit.db import (
    has_writer_gate,
    reads_first_on_the_loop,
    runs_reads_first,
    writer_gate_on_loop,
    wrote_in_reads_first,
)
from kit.insert_batches import RUN_AGAIN, write_with_this_turns_inserts
from kit.loop_thread import LeaveEventLoop, running_on_event_loop
from kit.reads_first import Insert, NotDeferrable, collecting_inserts
from kit.worker_threads import in_worker_thread

T = TypeVar("T")


async def run_database_work(
    db: Session, work: Callable[[], T], *, commit: bool = False, reads_first: bool = False
) -> T:
    """Run ``work`` (which uses ``db``) on the loop's thread if it can wait on nothing there,
    else in a worker thread (see the module's docstring). Either way it has finished, and
    whatever it committed is durable, when this returns.

    ``commit``: the work is the whole of the request's unit of work, committed as soon as it
    is done, in the thread it ran in. ``reads_first`` (with ``commit``): on SQLite its reads
    run in a read transaction and its inserts after them (``kit.reads_first``); work that
    writes anything else runs again the usual way."""
    if not (db.in_transaction() or db.new or db.dirty or db.deleted):
        if reads_first and commit and runs_reads_first(db):
            answered = await _reads_then_inserts(db, work)
            if answered:
                return answered[0]
        async with writer_gate_on_loop(db) as held:
            if held:
                try:
                    with running_on_event_loop():
                        return _run(db, work, commit)
                except LeaveEventLoop:
                    db.rollback()
    return await in_worker_thread(_run, db, work, commit)


def _run(db: Session, work: Callable[[], T], commit: bool) -> T:
    answer = work()
    if commit:
        db.commit()
    return answer


async def _reads_then_inserts(db: Session, work: Callable[[], T]) -> list[T]:
    """[the work's answer] once its reads ran in a transaction that writes nothing (on SQLite
    on the loop's thread, on PostgreSQL in a worker thread: every statement a round trip) and
    its inserts, if any, were committed after them in this turn's batch and are durable; []
    with nothing written when the work must run again the usual way."""
    inserts: list[Insert] = []
    if has_writer_gate(db):
        answered = _reads_collecting(db, work, inserts, on_sqlite=True)
    else:
        answered = await in_worker_thread(_reads_collecting, db, work, inserts, on_sqlite=False)
    if not answered or not inserts:
        return answered
    engine = cast(Engine, db.get_bind())  # runs_reads_first: an engine of its own
    if await write_with_this_turns_inserts(engine, inserts) == RUN_AGAIN:
        return []  # a row written since the reads: the usual way decides
    return answered


def _reads_collecting(
    db: Session, work: Callable[[], T], inserts: list[Insert], *, on_sqlite: bool
) -> list[T]:
    """Run ``work`` with its inserts collected into ``inserts``, then end its transaction:
    [its answer], or [] with everything rolled back when it must run the usual way."""
    if on_sqlite:
        return _reads_on_the_loop(db, work, inserts)
    # The session's transaction, which takes a connection from the pool (and pays the pool's
    # ping, a round trip) only if the work runs a statement.
    db.begin()
    ran = _collecting(db, work, inserts, nullcontext())
    # ORM changes, flushed or not, or a transaction the work ended itself: the usual way
    # writes them.
    if not ran or not db.in_transaction() or not db.is_active or _changed_objects(db):
        db.rollback()
        return []
    db.commit()  # ends the reads' transaction
    return ran


def _reads_on_the_loop(db: Session, work: Callable[[], T], inserts: list[Insert]) -> list[T]:
    """SQLite: the reads on the connection the loop keeps for them, in a transaction begun on
    it (``kit.db.reads_first_on_the_loop``), which the work's session joins if used."""
    with reads_first_on_the_loop(db) as reads:
        # Work that raises is ended here, on the thread that ran it: the connection is the
        # loop's, for the next request's reads, not the unit of work's to end.
        ran = _collecting(db, work, inserts, running_on_event_loop())
        # ORM changes, flushed or not, the transaction ended by the work, or a write no guard
        # saw: the usual way writes them.
        if (
            not ran
            or not reads.is_active
            or not db.is_active
            or _changed_objects(db)
            or wrote_in_reads_first(reads.connection)
        ):
            db.rollback()
            return []
        if db.in_transaction():
            db.commit()  # the session's part of the transaction: it leaves the transaction open
        reads.commit()  # the loop's connection is then free for the next request's reads
    return ran


def _collecting(
    db: Session, work: Callable[[], T], inserts: list[Insert], around: AbstractContextManager[object]
) -> list[T]:
    """[the answer of ``work``] run inside ``around`` with its inserts collected, or [] with
    the session rolled back when it must run the usual way; what else it raises is raised
    after the rollback."""
    try:
        with around, collecting_inserts(inserts):
            return [work()]
    except (LeaveEventLoop, NotDeferrable):
        db.rollback()
        return []
    except BaseException:
        db.rollback()
        raise


def _changed_objects(db: Session) -> bool:
    return bool(db.new or db.dirty or db.deleted)
