"""The hop into a worker thread keeps anyio's guarantees: the caller's context variables, the
work's answer or exception, and a cancelled caller that sees its cancellation only once the
work has finished (so a session the work uses is never closed under it)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kit import worker_threads
from kit.worker_threads import in_worker_thread
from tests.support.event_loop import run_loop

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_the_work_runs_in_another_thread_and_answers() -> None:
    async def main() -> tuple[int, int, int]:
        answer, thread = await in_worker_thread(lambda a, b: (a + b, threading.get_ident()), 2, b=3)
        return answer, thread, threading.get_ident()

    answer, work_thread, loop_thread = run_loop(main)
    assert answer == 5
    assert work_thread != loop_thread


def test_the_works_exception_reaches_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such row")

    async def main() -> None:
        await in_worker_thread(fails)

    with pytest.raises(LookupError, match="no such row"):
        run_loop(main)


def test_the_work_sees_the_callers_context_variables() -> None:
    async def main() -> str:
        request_id.set("req-42")
        return await in_worker_thread(request_id.get)

    assert run_loop(main) == "req-42"


def test_a_cancelled_caller_is_cancelled_only_once_the_work_finished() -> None:
    finished = threading.Event()
    seen_when_cancelled: list[bool] = []

    def slow_work() -> None:
        time.sleep(0.3)
        finished.set()

    async def caller() -> None:
        try:
            await in_worker_thread(slow_work)
        except asyncio.CancelledError:
            seen_when_cancelled.append(finished.is_set())
            raise

    async def main() -> None:
        task = asyncio.create_task(caller())
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()  # a second cancellation while the work still runs changes nothing
        with pytest.raises(asyncio.CancelledError):
            await task

    run_loop(main)
    assert seen_when_cancelled == [True]


def test_a_deadline_waits_for_the_work_then_raises_timeout() -> None:
    finished = threading.Event()

    def slow_work() -> str:
        time.sleep(0.3)
        finished.set()
        return "done"

    async def main() -> None:
        async with asyncio.timeout(0.05):
            await in_worker_thread(slow_work)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_loop(main)
    assert finished.is_set()
    assert time.monotonic() - started >= 0.3


def test_a_caller_cancelled_while_its_work_waits_for_a_thread_never_starts_it(monkeypatch) -> None:
    one_thread = ThreadPoolExecutor(1)
    monkeypatch.setattr(worker_threads, "_executor", one_thread)
    release = threading.Event()
    started: list[str] = []

    def occupying() -> None:
        started.append("occupying")
        release.wait(5)

    def queued() -> None:
        started.append("queued")

    async def main() -> float:
        occupant = asyncio.create_task(in_worker_thread(occupying))
        waiting = asyncio.create_task(in_worker_thread(queued))
        await asyncio.sleep(0.05)
        waiting.cancel()
        began = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        waited = time.monotonic() - began
        release.set()
        await occupant
        return waited

    try:
        waited = run_loop(main)
    finally:
        release.set()
        one_thread.shutdown(wait=True)
    assert waited < 1.0  # not held until the occupying work let the thread go
    assert started == ["occupying"]
