"""A client call from a network over its ceiling is held back (the guessing defence's pause,
identity/throttling/credentials.py) in a worker thread, never on the event loop, where the
gateway runs SQLite work (kit/database_work.py): a sleep there would hold every request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from identity.throttling import credentials
from identity.throttling.service import Assessment
from kit import migrations
from kit.database_work import run_database_work
from kit.db import create_db_engine
from tests.support.event_loop import LOOP_THREAD, Ticker, run_loop

PAUSE = Assessment(wait_until=None, pause_seconds=0.3, account_failures=0, known_device=False)


def test_a_paused_client_call_waits_in_a_worker_thread_and_the_loop_goes_on(tmp_path: Path, monkeypatch):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'pause.sqlite3'}")
    migrations.upgrade(engine)
    monkeypatch.setattr(credentials.throttling, "assess", lambda db, counters, now: PAUSE)
    attempted_in: list[str] = []

    def attempt() -> str:
        attempted_in.append(threading.current_thread().name)
        return "answered"

    async def main() -> tuple[str, int]:
        async with Ticker() as ticker:
            with Session(engine) as db:
                answer = await run_database_work(
                    db,
                    lambda: credentials.guarded(
                        db,
                        datetime.now(UTC),
                        "203.0.113.9",
                        credentials.client_credential("bench-client"),
                        attempt,
                        failed=lambda answer: False,
                        refused=lambda until: "refused",
                    ),
                )
        return answer, ticker.ticks

    answer, ticks = run_loop(main)
    engine.dispose()
    assert answer == "answered"
    assert len(attempted_in) == 1 and attempted_in[0] != LOOP_THREAD
    assert ticks >= 15, "the loop stood still during the pause"
