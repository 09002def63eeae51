"""The hop from the event loop into a worker thread, for synchronous work that may wait
(PostgreSQL's round trips, a unit of work committed at a request's end, a page's queries).

Starlette's ``run_in_threadpool`` (anyio's ``to_thread.run_sync``) cost 35 µs of CPU a hop at
30 concurrent requests on one core, this 21 µs (docs/performance.md, the round of 2026-12-04
~17:30 UTC): anyio adds a capacity limiter, cancel scopes and a queue with a ``Condition`` to
each hop. On PostgreSQL a request hops once or twice, and the writers at
5,000 disclosures/s spent a tenth of their CPU on it. The guarantees kept are anyio's:

- the work sees the caller's context variables (a copy, as anyio gives it);
- a cancelled caller (a timeout, a server shutting down) is cancelled only once the work has
  finished, so that nothing the work uses, a session above all, is closed under it;
- at most ``MAX_WORKERS`` threads run such work at once (anyio's default limit, 40); more
  wait in the executor's queue, and a caller cancelled while its work waits there is
  cancelled at once, the work never started (as anyio's wait for a thread is).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from kit.thread_names import name_os_thread

MAX_WORKERS = 40

P = ParamSpec("P")
T = TypeVar("T")

_executor = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="egate-worker", initializer=name_os_thread)


async def in_worker_thread(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` in a worker thread; its answer or its exception. A
    cancellation that arrives meanwhile is raised once the work has finished, or at once if
    the work had not started."""
    context = contextvars.copy_context()
    submitted = _executor.submit(functools.partial(context.run, work, *args, **kwargs))
    running = asyncio.wrap_future(submitted)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        if not submitted.cancel():  # a work still queued never starts; one started runs on
            await _finished(running)
        raise


async def _finished(running: asyncio.Future[T]) -> None:
    """Wait until the work is done, whatever more cancellations come (``asyncio.wait`` neither
    cancels the work nor raises its outcome, which is the cancelled caller's no longer)."""
    while not running.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([running])
