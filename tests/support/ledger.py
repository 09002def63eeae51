"""Recording a disclosure as userinfo would, and waiting for the ledger's sequencer, which
integrates accepted entries shortly after the release that recorded them committed
(consent.ledger.sequencer)."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from consent.ledger.models import QueuedDisclosure
from consent.port import LedgerConsentPort


def record_userinfo_disclosure(port: LedgerConsentPort, db: Session, number: int, now: datetime) -> str:
    """The ``number``-th release of one resident's email to the licensing department."""
    return port.record_disclosure(
        db,
        resident_id="resident-a",
        client_id="td-licensing",
        department="TD",
        channel="userinfo",
        fields=["sub", "email"],
        purpose="Driving licence renewal",
        grant_id=f"cg-{number}",
        legal_basis=None,
        request_id=f"req-{number}",
        now=now,
    )


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
