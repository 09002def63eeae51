"""An event loop of a test's own, in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LOOP_THREAD = "test-event-loop"


def run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` in a thread of its own, named LOOP_THREAD: the work must run
    on the loop's thread, and pytest's may already run a loop (Playwright's, in a browser
    test before this one in the same worker)."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(main()))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, name=LOOP_THREAD)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


class Ticker:
    """Counts the turns a coroutine gets, every 10 ms, while the block runs: how a test sees
    that the loop was not held up by what ran in the block."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1
