"""The ledger's Prometheus metrics (kit.metrics serves them): disclosures accepted, entries
integrated and checkpoints signed by this process's sequencer, and, read at scrape time from
the database, how many entries wait and how long the oldest has waited (the integration lag
a resident's entry is seeing now), how many entries the tree holds and how old its latest
checkpoint is. The database readings hold whichever process sequences: on PostgreSQL the
sequencer runs in a process of its own, whose counters no scrape of a worker sees."""

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
    frontier = repository.read_frontier(db)
    yield Reading("ledger_tree_size", "Entries integrated into the ledger's tree", frontier.tree_size)
    yield Reading(
        "ledger_checkpoint_tree_size", "Entries the latest signed checkpoint covers", frontier.checkpoint_size
    )
    if frontier.checkpoint_at is not None:
        age = max(0.0, (now - frontier.checkpoint_at).total_seconds())
        yield Reading("ledger_checkpoint_age_seconds", "How long ago the latest checkpoint was signed", age)
