"""The ledger's sequencer: integrates queued disclosures into the tree, in batches.

A release of claims only enqueues its entry (:meth:`Ledger.enqueue`); one sequencer per
deployment moves queued entries into the RFC 9162 tree (:meth:`Ledger.integrate`) and
signs one checkpoint per batch, as Trillian's and Tessera's sequencers do. Every server
process runs a :class:`Sequencer`; the one holding the lease row
(``consent_ledger_sequencer``) integrates, the others stand by and take over once it
lapses. The same code runs on SQLite in one process.

Defended against: a sequencer dying mid-batch (``kill -9``, a lost connection) — the batch
is one write transaction that deletes the queued rows it stores as entries, so it either
lands whole or leaves them queued for the next leader (on SQLite the batch is read and hashed
before, in a transaction that only reads, and stored only if the frontier is as read then);
two processes both believing they lead (a paused process whose lease lapsed) — the lease
row is re-taken inside every batch's own transaction, and the frontier row lock serialises
whatever slips through, so no entry is integrated twice. The lease's times come from each
process's wall clock: replicas must keep theirs in sync (NTP), to within a fraction of
``lease_seconds``.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent.config import ConsentConfig, SequencerPolicy
from consent.ledger import repository
from consent.ledger.integrity import LedgerInconsistent, LedgerIntegrity
from consent.ledger.metrics import CHECKPOINTS, INTEGRATED
from consent.ledger.repository import LedgerStateError
from consent.ledger.service import Integrated, Ledger
from kit.db import (
    DatabaseBusy,
    DatabaseTimeouts,
    begin_read_only,
    create_db_engine,
    create_session_factory,
    session_scope,
    utcnow,
)
from kit.thread_names import name_os_thread

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
# On SQLite, where a batch holds the one write lock every release needs, the pause after a
# partial batch is this many times the batch's own duration (at least the interval, at most
# PACED_PAUSE_CAP_SECONDS), so that releases get the lock 1 - 1 / (1 + PACE) of the time at
# least and batches grow with the load (their fixed cost paid less often). Lag is about a
# pause plus a batch. On PostgreSQL releases take no lock a batch holds: no pacing (measured:
# a starved sequencer's long batches made long pauses, and the lag grew by both).
PACE = 3.0
PACED_PAUSE_CAP_SECONDS = 0.3


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
        bind = sessions.kw.get("bind")
        self._shares_writers_lock = bind is not None and bind.dialect.name == "sqlite"
        # What this process last wrote as the lease's holder (see _following_on).
        self._lease_until: datetime | None = None
        self._after_batch = False
        self._unsigned = False
        self._checkpoint_at: datetime | None = None
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
        if self._following_on(now):
            # Right after a batch, as the lease's holder: straight to the next one (the lease
            # and the queue not read first).
            work, unsigned = True, self._unsigned
            sign = self._checkpoint_due(self._checkpoint_at)
        else:
            with _unit_of_work(self.sessions) as db:
                begin_read_only(db)  # on SQLite, no write lock for a look at the queue
                holder, expires_at = repository.read_lease(db)
                work = repository.has_queued(db)
                frontier = repository.read_frontier(db)
            held_by_other = holder not in (None, self.holder) and expires_at is not None and expires_at >= now
            if held_by_other:
                self.leading = False
                return None
            fresh = holder == self.holder and expires_at is not None and expires_at - now > self._lease / 2
            self._checkpoint_at = frontier.checkpoint_at
            sign = self._checkpoint_due(frontier.checkpoint_at)
            unsigned = frontier.tree_size > frontier.checkpoint_size
            if not work and fresh and not (unsigned and sign):
                return None
        batch = prepared = None
        if work and self._shares_writers_lock:
            # On SQLite the batch's reads and hashing run in a transaction that only reads:
            # the write transaction below holds the lock every request's writes wait for, and
            # with the hashing in it each batch held them up for milliseconds more
            # (docs/performance.md). On PostgreSQL requests take no lock the batch holds, and
            # one transaction is fewer round trips.
            with _unit_of_work(self.sessions) as db:
                begin_read_only(db)
                prepared = self.ledger.prepare(db, limit=self.policy.batch_size, check_head=sign)
        with _unit_of_work(self.sessions) as db:
            # Re-taken in the batch's own transaction: a lapsed holder cannot integrate.
            self.leading = repository.take_lease(db, self.holder, now, now + self._lease)
            if self.leading and prepared is not None:
                batch = self.ledger.store(db, prepared, self.clock(), sign=sign)
            elif self.leading and work and not self._shares_writers_lock:
                batch = self.ledger.integrate(db, self.clock(), limit=self.policy.batch_size, sign=sign)
            elif self.leading and unsigned and sign and not work:
                self._sign_tail(db)
        self._lease_until = now + self._lease if self.leading else None
        self._after_batch = batch is not None
        if batch is not None:
            self._unsigned = batch.checkpoint is None or batch.checkpoint.tree_size < batch.tree_size
            if batch.checkpoint is not None:
                self._checkpoint_at = batch.checkpoint.signed_at
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

    def _following_on(self, now: datetime) -> bool:
        """Whether the last step integrated a batch under a lease this process still holds
        for more than half its term: then nothing needs reading before the next batch (an
        empty queue ends it with nothing written but the lease)."""
        return (
            self._after_batch
            and self.leading
            and self._lease_until is not None
            and self._lease_until - now > self._lease / 2
        )

    def _checkpoint_due(self, checkpoint_at: datetime | None) -> bool:
        if not self.ledger.can_sign:
            return False
        if checkpoint_at is None:
            return True
        interval = timedelta(seconds=self.policy.checkpoint_interval_seconds)
        return self.clock() - checkpoint_at >= interval

    def _sign_tail(self, db: Session) -> None:
        checkpoint = self.ledger.sign_checkpoint(db, self.clock())
        self._checkpoint_at, self._unsigned = checkpoint.signed_at, False
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
        by a pause of ``interval_seconds`` or ``PACE`` times the batch's duration if longer
        (up to ``PACED_PAUSE_CAP_SECONDS``); each look that finds nothing doubles the pause,
        up to ``IDLE_PAUSE_CAP_SECONDS`` (an idle sequencer polling 20 times a second took
        a tenth of a core's requests). Failures are logged and retried; a ledger found
        inconsistent stops integrating (the integrity state says why). A clean stop signs
        what is integrated but not yet signed."""
        pause = self.policy.interval_seconds
        while not stop.is_set():
            started = time.monotonic()
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
                paced = PACE * (time.monotonic() - started) if self._shares_writers_lock else 0.0
                stop.wait(max(pause, min(paced, PACED_PAUSE_CAP_SECONDS)))
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
        self._thread = threading.Thread(target=self._run, name="ledger-sequence", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        name_os_thread()
        self.sequencer.run(self._stop)
        self.sequencer.resign()


@dataclass(frozen=True)
class SequencerSpec:
    """What a sequencer process builds its sequencer from (sent to it, so plain data).
    ``holder`` names the process that started it (the server replica) in the lease row;
    ``observe`` must be picklable (benchmarks)."""

    database_url: str
    origin: str
    master_key: bytes = field(repr=False)
    config: ConsentConfig = field(default_factory=ConsentConfig)
    timeouts: DatabaseTimeouts = field(default_factory=DatabaseTimeouts)
    holder: str = field(default_factory=new_holder_name)
    observe: BatchObserver | None = None


# How often a sequencer process checks that the process which started it is still there,
# where the kernel cannot be asked to end it with its parent (not Linux).
PARENT_CHECK_SECONDS = 0.25
# How long the supervisor waits before starting a sequencer process again after one died.
RESTART_PAUSE_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def run_sequencer_process(spec: SequencerSpec, parent: int) -> None:
    """A sequencer process's whole life (the target of :class:`SequencerProcess`): its own
    engine, ledger and integrity state; until SIGTERM, or until ``parent`` is gone (a server
    killed with ``kill -9`` must not leave its sequencer renewing the lease)."""
    if sys.platform == "linux":
        # The kernel ends this process as soon as the thread that started it ends.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us cleanly
    if os.getppid() != parent:
        return
    threading.Thread(target=_watch_parent, args=(parent, stop), name="parent-watch", daemon=True).start()
    engine = create_db_engine(spec.database_url, spec.timeouts, pool_size=2)
    sessions = create_session_factory(engine)
    ledger = Ledger(
        origin=spec.origin,
        master_key=spec.master_key,
        policy=spec.config.checkpoints,
        integrity=LedgerIntegrity(spec.config.integrity),
    )
    ledger.integrity.verify_head(sessions)
    sequencer = Sequencer(ledger, sessions, spec.config.sequencer, holder=spec.holder, observe=spec.observe)
    try:
        sequencer.run(stop)
        sequencer.resign()
    finally:
        engine.dispose()


def _watch_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent:
            stop.set()


class SequencerProcess:
    """The sequencer in a process of its own, started and watched by a supervisor thread of
    the server: restarted if it dies, ended with the server (also when the server is killed
    with ``kill -9``). Leadership is still the lease row's, so any replica's sequencer
    process can take over.

    Why a process: in the server's process the sequencer thread shares one GIL with every
    request thread and under load got a small share of one core, so queued entries waited
    seconds; in a process of its own the operating system schedules it as an equal."""

    def __init__(self, spec: SequencerSpec) -> None:
        self.spec = spec
        self.starts = 0
        self._stop = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._supervise, name="ledger-sequencer-supervisor", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.is_alive()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM: the process finishes its batch, signs what it left unsigned and gives
        the lease up."""
        self._stop.set()
        with self._lock:
            process = self._process
        if process is not None and process.is_alive():
            process.terminate()
        self._thread.join(timeout)
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            process = self._context.Process(
                target=run_sequencer_process,
                args=(self.spec, os.getpid()),
                name="egate-ledger-sequencer",
                daemon=True,
            )
            with self._lock:
                if self._stop.is_set():
                    return
                process.start()
                self._process = process
                self.starts += 1
            process.join()
            if not self._stop.is_set():
                log.warning(
                    "ledger sequencer process ended (exit code %s); starting another", process.exitcode
                )
                self._stop.wait(RESTART_PAUSE_SECONDS)
