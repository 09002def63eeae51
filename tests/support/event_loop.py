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
