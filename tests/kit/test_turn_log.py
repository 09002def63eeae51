"""The served process's log stream: a turn's lines on the event loop are written together at
the loop's next turn, in order; a warning, a line off the loop and a flush write what is held
first; nothing is held past the turn."""

from __future__ import annotations

import asyncio
import io
import logging

from kit.observability import TextFormatter
from kit.turn_log import LoopTurnStreamHandler
from tests.support.event_loop import run_loop


class CountedStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def handler_and_logger(name: str) -> tuple[LoopTurnStreamHandler, CountedStream, logging.Logger]:
    stream = CountedStream()
    handler = LoopTurnStreamHandler()
    handler.setStream(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"tests.turn_log.{name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return handler, stream, logger


def test_a_turns_lines_are_written_together_at_the_next_turn_in_order() -> None:
    _, stream, logger = handler_and_logger("turn")

    async def main() -> tuple[str, str, int]:
        for n in range(5):
            logger.info("request %d", n)
        during = stream.getvalue()
        await asyncio.sleep(0)  # the loop's next turn
        return during, stream.getvalue(), stream.writes

    during, after, writes = run_loop(main)
    assert during == ""
    assert after == "".join(f"INFO request {n}\n" for n in range(5))
    assert writes == 1


def test_a_warning_writes_what_is_held_first_then_itself() -> None:
    _, stream, logger = handler_and_logger("warning")

    async def main() -> str:
        logger.info("first")
        logger.warning("second")
        return stream.getvalue()

    assert run_loop(main) == "INFO first\nWARNING second\n"


def test_a_line_off_the_loop_is_written_at_once_after_what_the_loop_holds() -> None:
    _, stream, logger = handler_and_logger("thread")

    async def main() -> str:
        logger.info("on the loop")
        await asyncio.to_thread(logger.info, "from a thread")
        return stream.getvalue()

    # The thread's line cannot wait for a turn of a loop it is not on.
    assert run_loop(main) == "INFO on the loop\nINFO from a thread\n"


def test_a_flush_writes_what_is_held() -> None:
    handler, stream, logger = handler_and_logger("flush")

    async def main() -> str:
        logger.info("before exit")
        handler.flush()  # what logging.shutdown does at the process's exit
        return stream.getvalue()

    assert run_loop(main) == "INFO before exit\n"


def test_the_lines_are_the_formatters_own() -> None:
    """The access line as the gateway formats it: the request id of the line's own context,
    not of whatever runs when the turn's lines are written."""
    from kit.observability import request_id_var

    handler, stream, logger = handler_and_logger("format")
    handler.setFormatter(TextFormatter())

    async def main() -> str:
        token = request_id_var.set("abc123")
        try:
            logger.info("request", extra={"fields": {"status": 200}})
        finally:
            request_id_var.reset(token)
        await asyncio.sleep(0)
        return stream.getvalue()

    line = run_loop(main)
    assert "[abc123] tests.turn_log.format: request status=200" in line
