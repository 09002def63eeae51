"""The served process's log stream, written once per turn of the event loop.

Every request writes an access line (kit.observability). Written one at a time, each was a
``write`` and a flush of its own on the loop's thread: with the record's making and
formatting, the line cost a sixth of an unauthenticated userinfo call's CPU
(docs/performance.md). Here an INFO or DEBUG line made on a running loop is formatted at
once and kept with the others of the same turn, and the turn's lines are written together
at the loop's next turn, in the order they were made.

A line waits for that turn only: a WARNING or worse, a line made off the loop (the ledger's
threads, the CLI) and ``flush`` (``logging.shutdown`` at exit, so also a loop that stopped
before its next turn) write what is held first, then their own. What a ``kill -9`` can lose
is one turn's access lines, logged after their responses had gone.
"""

from __future__ import annotations

import asyncio
import logging


class LoopTurnStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]  # stderr's TextIO
    def __init__(self) -> None:
        super().__init__()
        # Lines held, by the loop whose next turn writes them (a process may run several
        # loops, each in its thread: a test's live servers).
        self._held: dict[asyncio.AbstractEventLoop, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        loop = asyncio._get_running_loop()
        if loop is None or record.levelno >= logging.WARNING:
            self._write_held()
            super().emit(record)
            return
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        held = self._held.get(loop)
        if held is None:
            held = self._held[loop] = []
            loop.call_soon(self._write_turn, loop)
        held.append(line)

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_held()
            super().flush()
        finally:
            self.release()

    def _write_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        self.acquire()
        try:
            lines = self._held.pop(loop, None)
            if lines:
                self._write(lines)
        finally:
            self.release()

    def _write_held(self) -> None:
        """Every loop's held lines; called with the handler's lock held."""
        while self._held:
            _, lines = self._held.popitem()
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        try:
            self.stream.write(self.terminator.join(lines) + self.terminator)
            super().flush()
        except Exception:  # as StreamHandler.emit: a broken stream must not break the caller
            self.handleError(logging.makeLogRecord({"msg": "%d log lines lost", "args": (len(lines),)}))
