"""Where a request's synchronous database work runs: on the event loop's own thread when that
cannot wait on anything, else in a worker thread.

On SQLite a hot path's statements take microseconds, and the hop into a worker thread cost
more than they did: at ten concurrent requests, the handover and the GIL passing between the
loop and the workers were about a third of a token grant's CPU (measured in one process,
docs/performance.md). Node's SQLite drivers run on the loop for the same reason. So the work
runs on the loop holding the process's SQLite writer gate (``kit.db``), which the loop
awaits, never blocks on, so the work's transactions wait for nothing in this process.

It goes to a worker thread instead:
- on PostgreSQL, whose every statement is a network round trip;
- when the session already has work in it, whose transaction or pending changes are not this
  work's to take over;
- when the work reaches a call that may block for long (``kit.loop_thread.may_block``:
  fetching a client's JWK Set, the guessing defence's pause). The work is rolled back and
  run again from the start in a worker thread, so such a call must come before the work's
  first commit.

Another process's SQLite transaction (``egate serve --workers N``) is waited for before the
work starts, in a worker thread while the loop goes on (``kit.db._WriterGate.hold_on_loop``);
the work then runs on the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kit.db import writer_gate_on_loop
from kit.loop_thread import LeaveEventLoop, running_on_event_loop

T = TypeVar("T")


async def run_database_work(db: Session, work: Callable[[], T]) -> T:
    """Run ``work`` (which uses ``db``) on the loop's thread if it can wait on nothing there,
    else in a worker thread (see the module's docstring). Either way it has finished, and
    whatever it committed is durable, when this returns."""
    if not (db.in_transaction() or db.new or db.dirty or db.deleted):
        async with writer_gate_on_loop(db) as held:
            if held:
                try:
                    with running_on_event_loop():
                        return work()
                except LeaveEventLoop:
                    db.rollback()
    return await run_in_threadpool(work)
