"""Waiting for the ledger's sequencer, which integrates accepted entries shortly after the
release that recorded them committed (consent.ledger.sequencer)."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from consent.ledger.models import QueuedDisclosure


def wait_for_integration(sessions: sessionmaker[Session], timeout: float = 15.0) -> None:
    """Until no accepted entry awaits integration (a running server's sequencer)."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as db:
            if not db.scalar(select(func.count()).select_from(QueuedDisclosure)):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"entries still await integration after {timeout} s")
        time.sleep(0.02)
