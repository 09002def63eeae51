"""The inserts of reads-first work (``kit.reads_first``), written for every request of one
turn of the event loop in one write transaction.

A userinfo call, an introspection or a client_credentials grant ends in an insert or two (a
disclosure queued in the ledger, a client's token). Each in a write transaction of its own
paid a BEGIN IMMEDIATE, the writer gate, the lock file and a COMMIT that writes whole pages
to the WAL, for a row of a few hundred bytes; and the ledger accepted no more disclosures a
second than the write transactions the loop could run (issue #17). Here the requests whose
reads ended in the same turn of the loop hand their inserts to one batch, which the loop
writes at its next turn: one gate, one transaction, one COMMIT, and the loop's group fsync
(``kit.db._GroupSync``) before any of them is answered.

The rows the requests insert by one writer (``kit.reads_first.RowsInsert``: a queued
disclosure, a client's token) are written in one execution of it, an executemany: on SQLite
one statement stepped once a row rather than a statement, a savepoint and its release a
request; on PostgreSQL one round trip (psycopg pipelines an executemany) rather than one a
request.

On SQLite, if that write fails, it is undone (a savepoint around it) and each request's
inserts are written again under a SAVEPOINT of their own: an insert a unique or foreign key
refuses (a row written since its reads) rolls back that request's rows alone, and that
request runs again the usual way (``kit.database_work``); any other error of its inserts is
its own too. On PostgreSQL a savepoint would cost two round trips a request, so a refused
insert sends the whole batch back to run again, each request alone; there one batch is written
at a time per process, in a worker thread, and what arrives meanwhile makes the next (the
COMMIT, with its WAL flush, is what a disclosure accepted alone paid most for; the batch's
hop into a thread is why it is the operator's choice there, ``kit.settings``). An error of
the transaction itself (the gate's timeout, the COMMIT) is every request's, and none of them
is answered as if written.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kit.db import write_transaction_on_the_loop
from kit.loop_thread import running_on_event_loop
from kit.reads_first import Insert, RowsInsert, RowsWriter
from kit.worker_threads import in_worker_thread

WRITTEN = True
RUN_AGAIN = False  # an insert was refused by a key: the request runs again the usual way


@dataclass
class _Batch:
    requests: list[tuple[Sequence[Insert], asyncio.Future[bool]]] = field(default_factory=list)


_writing: set[asyncio.Task[None]] = set()

# The batch each loop is gathering, by engine: the requests that join it before it takes the
# writer gate are written together.
_gathering: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, _Batch]] = (
    weakref.WeakKeyDictionary()
)


async def write_with_this_turns_inserts(engine: Engine, inserts: Sequence[Insert]) -> bool:
    """Write ``inserts`` (each given the batch's session) in the batch of this turn of the
    loop; WRITTEN once committed and durable, RUN_AGAIN if a key refused one of them (none
    of them is then written). Raises what made the batch's transaction fail."""
    loop = asyncio.get_running_loop()
    batches = _gathering.setdefault(loop, {})
    batch = batches.get(engine)
    if batch is None:
        batch = batches[engine] = _Batch()
        # A context of its own: not the first request's (its unit of work, its collecting).
        task = loop.create_task(_write(loop, engine, batch), context=contextvars.Context())
        _writing.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_writing.discard)
    written: asyncio.Future[bool] = loop.create_future()
    batch.requests.append((inserts, written))
    return await written


async def _write(loop: asyncio.AbstractEventLoop, engine: Engine, batch: _Batch) -> None:
    try:
        if engine.dialect.name == "sqlite":
            outcomes = await _write_under_the_gate(loop, engine, batch)
        else:
            outcomes = await _write_in_a_thread(loop, engine, batch)
    except BaseException as error:
        _stop_gathering(loop, engine, batch)
        for _, written in batch.requests:
            if not written.done():
                written.set_exception(error)
        if not isinstance(error, Exception):
            raise
        return
    for (_, written), outcome in zip(batch.requests, outcomes, strict=True):
        if written.done():  # the request was cancelled: its rows are written all the same
            continue
        if isinstance(outcome, BaseException):
            written.set_exception(outcome)
        else:
            written.set_result(outcome)


async def _write_under_the_gate(
    loop: asyncio.AbstractEventLoop, engine: Engine, batch: _Batch
) -> list[bool | BaseException]:
    """SQLite: on the loop's thread and its own connection, holding the process's writer gate,
    once the loop's previous batch is durable: the requests whose reads end during its fsync
    join this one rather than each turn's making a write transaction of its own (what took the
    lock file, across workers, once per request at moderate load; the commit would have waited
    for the next fsync anyway)."""
    async with _one_in_flight(loop, engine), write_transaction_on_the_loop(engine) as db:
        # Requests that ended their reads while the gate was awaited join this batch.
        _stop_gathering(loop, engine, batch)
        with running_on_event_loop():
            outcomes = _write_each(db, batch.requests)
    # The transaction's end awaited the commit's fsync, before the next batch could begin.
    return outcomes


# One batch in flight per loop and engine, from its BEGIN until it is durable; the requests
# that end their reads meanwhile gather for the next (on PostgreSQL what makes a batch, where
# no gate orders writers).
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _one_in_flight(loop: asyncio.AbstractEventLoop, engine: Engine) -> asyncio.Lock:
    return _in_flight.setdefault(loop, {}).setdefault(engine, asyncio.Lock())


async def _write_in_a_thread(
    loop: asyncio.AbstractEventLoop, engine: Engine, batch: _Batch
) -> list[bool | BaseException]:
    """PostgreSQL: in a worker thread, every statement a round trip. No savepoints (two more
    round trips a request): if any insert fails, nothing of the batch is written and each of
    its requests runs again the usual way, alone."""
    async with _one_in_flight(loop, engine):
        _stop_gathering(loop, engine, batch)
        return await in_worker_thread(_write_all_or_none, engine, batch.requests)


def _write_all_or_none(
    engine: Engine, requests: Sequence[tuple[Sequence[Insert], object]]
) -> list[bool | BaseException]:
    inserts = _by_writer([inserts for inserts, _ in requests])
    if inserts is None:
        inserts = [insert for request_inserts, _ in requests for insert in request_inserts]
    with Session(engine, expire_on_commit=False) as db:
        try:
            for insert in inserts:
                insert(db)
        except IntegrityError:
            db.rollback()
            return [RUN_AGAIN] * len(requests)
        db.commit()
    return [WRITTEN] * len(requests)


def _stop_gathering(loop: asyncio.AbstractEventLoop, engine: Engine, batch: _Batch) -> None:
    batches = _gathering.get(loop, {})
    if batches.get(engine) is batch:
        del batches[engine]


def _write_each(
    db: Session, requests: Sequence[tuple[Sequence[Insert], object]]
) -> list[bool | BaseException]:
    """One outcome per request, in order: its inserts under a savepoint of their own (none
    for a batch of one: its transaction is its savepoint)."""
    if len(requests) == 1:
        try:
            for insert in requests[0][0]:
                insert(db)
        except IntegrityError:
            db.rollback()
            return [RUN_AGAIN]
        return [WRITTEN]
    driver: Any = db.connection().connection.driver_connection
    merged = _by_writer([inserts for inserts, _ in requests])
    if merged is not None:
        driver.execute("SAVEPOINT egate_batch")
        try:
            for insert in merged:
                insert(db)
        except Exception:  # whose it is, each request's own savepoint below tells
            driver.execute("ROLLBACK TO egate_batch")
        else:
            return [WRITTEN] * len(requests)
        finally:
            driver.execute("RELEASE egate_batch")
    outcomes: list[bool | BaseException] = []
    for inserts, _ in requests:
        driver.execute("SAVEPOINT egate_request")
        try:
            for insert in inserts:
                insert(db)
        except Exception as error:  # that request's alone: its rows go, the others' stay
            driver.execute("ROLLBACK TO egate_request")
            outcomes.append(RUN_AGAIN if isinstance(error, IntegrityError) else error)
        else:
            outcomes.append(WRITTEN)
        driver.execute("RELEASE egate_request")
    return outcomes


def _by_writer(requests: Sequence[Sequence[Insert]]) -> list[Insert] | None:
    """The requests' inserts as one insert per writer, each with its requests' rows in request
    order; None if any insert is not a ``RowsInsert``, or if writing writer after writer would
    change the order of one request's inserts (a foreign key may depend on it)."""
    by_writer: dict[RowsWriter, tuple[int, list[Mapping[str, Any]]]] = {}
    for inserts in requests:
        last = 0
        for insert in inserts:
            if not isinstance(insert, RowsInsert):
                return None
            position, rows = by_writer.setdefault(insert.writer, (len(by_writer), []))
            if position < last:
                return None
            last = position
            rows.extend(insert.rows)
    return [RowsInsert(writer, rows) for writer, (_, rows) in by_writer.items()]
