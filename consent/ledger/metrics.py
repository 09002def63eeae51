"""The ledger's Prometheus metrics (kit.metrics serves them): disclosures accepted, entries
integrated and checkpoints signed by the sequencer, and, read at scrape time with one query
over the sequencing queue, how many entries wait and how long the oldest has waited (the
integration lag a resident's entry is seeing now)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from consent.ledger import repository
from kit.metrics import Reading, counter

DISCLOSURES = counter("ledger_disclosures_total", "Disclosures accepted into the ledger's sequencing queue")
INTEGRATED = counter("ledger_integrated_total", "Entries the sequencer integrated into the tree")
CHECKPOINTS = counter("ledger_checkpoints_total", "Checkpoints the sequencer signed")


def readings(db: Session, now: datetime) -> Iterable[Reading]:
    depth, oldest = repository.queue_head(db)
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    yield Reading("ledger_queue_depth", "Accepted disclosures waiting for integration", depth)
    yield Reading(
        "ledger_integration_lag_seconds", "How long the oldest entry waiting for integration has waited", lag
    )
