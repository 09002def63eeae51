"""What work running on the event loop's own thread must not do: wait on the network or on
another process. ``kit.database_work`` runs SQLite work there and marks it; a call that may
wait calls ``may_block`` first, which hands the work to a worker thread (``LeaveEventLoop``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_on_event_loop: ContextVar[bool] = ContextVar("egate_work_on_event_loop", default=False)


class LeaveEventLoop(BaseException):
    """The work on the loop's thread reached a call that may block; it runs again in a worker
    thread. A BaseException so that no ``except Exception`` on the way mistakes it for the
    failure of what it interrupted."""


def may_block() -> None:
    """Call before anything that may wait on the network or another process: in work on the
    loop's thread it hands the work to a worker thread (``LeaveEventLoop``); elsewhere it
    does nothing."""
    if _on_event_loop.get():
        raise LeaveEventLoop


@contextmanager
def running_on_event_loop() -> Iterator[None]:
    """Marks the work run in the block as running on the loop's thread."""
    marker = _on_event_loop.set(True)
    try:
        yield
    finally:
        _on_event_loop.reset(marker)
