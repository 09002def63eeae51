"""The ledger's sequencer: integrates queued disclosures into the tree, in batches.

A release of claims only enqueues its entry (:meth:`Ledger.enqueue`); one sequencer per
deployment moves queued entries into the RFC 9162 tree (:meth:`Ledger.integrate`) and
signs one checkpoint per batch, as Trillian's and Tessera's sequencers do. Every server
process runs a :class:`Sequencer`; the one holding the lease row
(``consent_ledger_sequencer``) integrates, the others stand by and take over once it
lapses. The same code runs on SQLite in one process.

Defended against: a sequencer dying mid-batch (``kill -9``, a lost connection) — the batch
is one transaction that deletes the queued rows it stores as entries, so it either lands
whole or leaves them queued for the next leader; two processes both believing they lead (a
paused process whose lease lapsed) — the lease row is re-taken inside every batch's own
transaction, and the frontier row lock serialises whatever slips through, so no entry is
integrated twice. The lease's times come from each process's wall clock: replicas must
keep theirs in sync (NTP), to within a fraction of ``lease_seconds``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent.config import SequencerPolicy
from consent.ledger import repository
from consent.ledger.integrity import LedgerInconsistent
from consent.ledger.metrics import CHECKPOINTS, INTEGRATED
from consent.ledger.repository import FrontierRow, LedgerStateError
from consent.ledger.service import Integrated, Ledger
from kit.db import DatabaseBusy, session_scope, utcnow

log = logging.getLogger("consent.ledger.sequencer")
BatchObserver = Callable[[Integrated, datetime], None]


@contextmanager
def _unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    yield from session_scope(sessions)


def new_holder_name() -> str:
    """Names the process in the lease row (host, pid and a random tag; no secret)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


# The longest an idle sequencer waits before looking at the queue again: what an entry
# recorded after a quiet spell may wait on top of the usual interval (target: lag p99 <= 1 s).
IDLE_PAUSE_CAP_SECONDS = 0.4


class Sequencer:
    """One process's sequencer. :meth:`step` integrates one batch if this process holds
    (or can take) the lease; :meth:`drain` until the queue is empty; :meth:`run` forever.

    ``clock`` dates the checkpoints (the deployment's clock); ``wall`` times the lease.
    ``observe`` is called after each batch committed, with the commit time (benchmarks,
    metrics)."""

    def __init__(
        self,
        ledger: Ledger,
        sessions: sessionmaker[Session],
        policy: SequencerPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        wall: Callable[[], datetime] = utcnow,
        holder: str | None = None,
        observe: BatchObserver | None = None,
    ) -> None:
        self.ledger = ledger
        self.sessions = sessions
        self.policy = policy or SequencerPolicy()
        self.clock = clock
        self.wall = wall
        self.holder = holder or new_holder_name()
        self.observe = observe
        self.leading = False
        self.batches = 0
        self.integrated_entries = 0
        self.checkpoints = 0

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.policy.lease_seconds)

    def step(self) -> Integrated | None:
        """One batch of at most ``policy.batch_size`` entries, or None: nothing queued, or
        another process holds the lease. A lease about to lapse is renewed even when idle.

        A batch is signed only if the last checkpoint is ``checkpoint_interval_seconds``
        old; otherwise the next batch, or an idle step once that much time has passed,
        signs over everything integrated meanwhile. Entries are integrated at once either
        way, so the interval bounds how many checkpoints a log signs, not its lag."""
        now = self.wall()
        with _unit_of_work(self.sessions) as db:
            holder, expires_at = repository.read_lease(db)
            work = repository.has_queued(db)
            frontier = repository.read_frontier(db)
        held_by_other = holder not in (None, self.holder) and expires_at is not None and expires_at >= now
        if held_by_other:
            self.leading = False
            return None
        fresh = holder == self.holder and expires_at is not None and expires_at - now > self._lease / 2
        sign = self._checkpoint_due(frontier)
        unsigned = frontier.tree_size > frontier.checkpoint_size
        if not work and fresh and not (unsigned and sign):
            return None
        batch = None
        with _unit_of_work(self.sessions) as db:
            # Re-taken in the batch's own transaction: a lapsed holder cannot integrate.
            self.leading = repository.take_lease(db, self.holder, now, now + self._lease)
            if self.leading and work:
                batch = self.ledger.integrate(db, self.clock(), limit=self.policy.batch_size, sign=sign)
            elif self.leading and unsigned and sign:
                self._sign_tail(db)
        if batch is not None:
            committed_at = self.wall()
            self.ledger.integrated(batch)
            self.batches += 1
            self.integrated_entries += batch.count
            INTEGRATED.inc(batch.count)
            if batch.checkpoint is not None:
                self.checkpoints += 1
                CHECKPOINTS.inc()
            if self.observe is not None:
                self.observe(batch, committed_at)
        return batch

    def _checkpoint_due(self, frontier: FrontierRow) -> bool:
        if not self.ledger.can_sign:
            return False
        if frontier.checkpoint_at is None:
            return True
        interval = timedelta(seconds=self.policy.checkpoint_interval_seconds)
        return self.clock() - frontier.checkpoint_at >= interval

    def _sign_tail(self, db: Session) -> None:
        self.ledger.sign_checkpoint(db, self.clock())
        self.checkpoints += 1
        CHECKPOINTS.inc()

    def flush(self) -> bool:
        """Sign a checkpoint over entries integrated since the last one, interval or not (a
        clean stop, the end of a one-shot drain), if this process holds the lease. Whether
        one was signed."""
        if not self.ledger.can_sign:
            return False
        now = self.wall()
        with _unit_of_work(self.sessions) as db:
            frontier = repository.read_frontier(db)
            if frontier.tree_size <= frontier.checkpoint_size and frontier.checkpoint_at is not None:
                return False
            if frontier.tree_size == 0 or not repository.take_lease(db, self.holder, now, now + self._lease):
                return False
            self._sign_tail(db)
        return True

    def drain(self) -> int:
        """Integrate until the queue is empty (or the lease is another's), then sign what the
        last batches left unsigned; entries integrated."""
        total = 0
        while (batch := self.step()) is not None:
            total += batch.count
        if self.leading:
            self.flush()
        return total

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: a full batch is followed by the next at once, a partial one
        by a pause of ``interval_seconds``; each look that finds nothing doubles the pause,
        up to ``IDLE_PAUSE_CAP_SECONDS`` (an idle sequencer polling 20 times a second took
        a tenth of a core's requests). Failures are logged and retried; a ledger found
        inconsistent stops integrating (the integrity state says why). A clean stop signs
        what is integrated but not yet signed."""
        pause = self.policy.interval_seconds
        while not stop.is_set():
            try:
                batch = self.step()
            except LedgerInconsistent:
                stop.wait(self.policy.lease_seconds)
                continue
            except (SQLAlchemyError, DatabaseBusy) as error:
                log.warning("ledger sequencer could not reach the database: %s", type(error).__name__)
                batch = None
            except Exception:  # the sequencer must outlive any one failure
                log.exception("ledger sequencer step failed")
                batch = None
            if batch is None:
                stop.wait(pause)
                pause = min(pause * 2, max(IDLE_PAUSE_CAP_SECONDS, self.policy.interval_seconds))
                continue
            pause = self.policy.interval_seconds
            if batch.count < self.policy.batch_size:
                stop.wait(pause)
        if self.leading:
            try:
                self.flush()
            except (LedgerStateError, SQLAlchemyError, DatabaseBusy) as error:
                log.warning("ledger sequencer could not sign on stopping: %s", type(error).__name__)

    def lease(self) -> tuple[str | None, datetime | None]:
        """Who holds the lease, and until when."""
        with _unit_of_work(self.sessions) as db:
            return repository.read_lease(db)

    def resign(self) -> None:
        """Give the lease up (a clean stop), so that a standby takes over at once."""
        try:
            with _unit_of_work(self.sessions) as db:
                repository.release_lease(db, self.holder)
        except (SQLAlchemyError, DatabaseBusy) as error:
            log.warning("ledger sequencer could not release its lease: %s", type(error).__name__)
        self.leading = False


class BackgroundSequencer:
    """A daemon thread running :meth:`Sequencer.run` (inside `egate serve`). It needs
    connections of its own, like the integrity verification (``can_run_beside``)."""

    def __init__(self, sequencer: Sequencer) -> None:
        self.sequencer = sequencer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self.sequencer.run(self._stop)
        self.sequencer.resign()
