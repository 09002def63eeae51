"""The ledger's sequencer: releases only enqueue, one lease holder integrates batches, every
accepted entry lands in the tree exactly once — with writers and two sequencers racing,
with the leader lapsing, and with the leader's process killed (``kill -9``) mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.exc import OperationalError

from consent.config import ConsentConfig, SequencerPolicy
from consent.ledger import repository, service
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.integrity import LedgerInconsistent
from consent.ledger.models import LedgerCheckpoint, LedgerEntry, MerkleNode, QueuedDisclosure
from consent.ledger.rfc9162 import MemoryMerkleLog, leaf_hash
from consent.ledger.sequencer import Sequencer, SequencerProcess, SequencerSpec
from consent.ledger.service import DisclosureView, Ledger, LedgerStateError
from consent.ledger.verifier import verify_export
from kit import migrations
from kit.db import DatabaseTimeouts, begin_read_only, create_db_engine, create_session_factory, session_scope
from tests.consent.conftest import disclosure
from tests.support.databases import TEST_SETTINGS, new_database_url

ROOT = Path(__file__).resolve().parents[3]
ORIGIN = "testserver/consent/ledger"
unit_of_work = contextmanager(session_scope)


def new_ledger() -> Ledger:
    return Ledger(origin=ORIGIN, master_key=b"k" * 32)


def check_tree(sessions, ledger: Ledger, expected_ids: set[str]) -> int:
    """Every expected entry exactly once, at indices 0..n-1; the nodes, the frontier and every
    checkpoint agree with the entries; the export verifies. Returns the checkpoint count."""
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(QueuedDisclosure)) == 0
        rows = db.scalars(select(LedgerEntry).order_by(LedgerEntry.index)).all()
        assert [row.index for row in rows] == list(range(len(expected_ids)))
        assert {row.entry_id for row in rows} == expected_ids
        log = MemoryMerkleLog()
        for row in rows:
            digest = leaf_hash(canonical_entry_bytes(DisclosureView.of(row).entry()))
            assert digest == row.leaf_hash
            log.append(digest)
        for node in db.scalars(select(MerkleNode)):
            assert node.hash == log.get_node(node.level, node.index)
        assert repository.read_frontier(db).tree_size == len(rows)
        checkpoints = db.scalars(select(LedgerCheckpoint)).all()
        for checkpoint in checkpoints:
            assert checkpoint.root_hash == log.root(checkpoint.tree_size)
        assert max(c.tree_size for c in checkpoints) == len(rows)  # the last batch is signed
        vkey = ledger.verifier_key(db, datetime.now(UTC)).vkey
    report = verify_export(ledger.export_lines(sessions), vkey)
    assert report.ok, report.first_error
    assert report.entries_checked == len(expected_ids)
    return len(checkpoints)


def test_writers_and_two_sequencers_integrate_every_entry_once(backend, request, tmp_path):
    writers, releases_each = 4, 60
    engine = create_db_engine(new_database_url(backend, request, tmp_path), pool_size=writers + 4)
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        ledger = new_ledger()
        policy = SequencerPolicy(
            batch_size=25, interval_seconds=0.005, lease_seconds=0.5, checkpoint_interval_seconds=0
        )
        first, second = (Sequencer(ledger, sessions, policy, holder=name) for name in ("first", "second"))
        accepted: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def writer(number: int) -> None:
            try:
                for i in range(releases_each):
                    with unit_of_work(sessions) as db:
                        if i % 10 == 9:
                            drafts = [
                                disclosure(f"resident-{number}", request_id=f"w{number}-{i}-{j}")
                                for j in range(3)
                            ]
                            ids = ledger.enqueue_many(db, drafts, datetime.now(UTC))
                        else:
                            ids = [ledger.enqueue(db, disclosure(f"resident-{number}"), datetime.now(UTC))]
                    with lock:
                        accepted.extend(ids)
            except BaseException as error:
                errors.append(error)

        stops = {first: threading.Event(), second: threading.Event()}
        sequencing = [threading.Thread(target=s.run, args=(stop,)) for s, stop in stops.items()]
        for thread in sequencing:
            thread.start()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        # The leader stops half-way through, without resigning (as if it hung or died): its
        # lease lapses and the standby takes over.
        deadline = time.monotonic() + 120
        while first.integrated_entries + second.integrated_entries < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        leader = first if first.leading else second
        stops[leader].set()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors
        standby = second if leader is first else first
        while time.monotonic() < deadline:
            with sessions() as db:
                if not repository.has_queued(db):
                    break
            time.sleep(0.02)
        stops[standby].set()
        for thread in sequencing:
            thread.join(timeout=30)

        assert len(accepted) == writers * (releases_each + releases_each // 10 * 2)
        assert leader.integrated_entries > 0 and standby.integrated_entries > 0 and standby.leading
        checkpoints = check_tree(sessions, ledger, set(accepted))
        assert checkpoints == first.batches + second.batches  # one per batch
    finally:
        engine.dispose()


def test_a_standby_waits_for_the_lease_then_takes_over(session_factory, now):
    ledger = new_ledger()
    clock = {"now": now}
    policy = SequencerPolicy(lease_seconds=5.0, checkpoint_interval_seconds=0)

    def sequencer(name: str) -> Sequencer:
        return Sequencer(ledger, session_factory, policy, holder=name, wall=lambda: clock["now"])

    leader, standby = sequencer("leader"), sequencer("standby")
    with unit_of_work(session_factory) as db:
        first_id = ledger.enqueue(db, disclosure(), now)
    assert leader.step().count == 1 and leader.leading
    with unit_of_work(session_factory) as db:
        second_id = ledger.enqueue(db, disclosure(), now)
    clock["now"] = now + timedelta(seconds=4.9)
    assert standby.step() is None and not standby.leading  # the lease holds
    assert standby.lease() == ("leader", now + timedelta(seconds=5))
    clock["now"] = now + timedelta(seconds=5.1)
    assert standby.step().count == 1 and standby.leading  # lapsed: taken over
    assert leader.step() is None and not leader.leading
    standby.resign()  # a clean stop hands over at once
    with unit_of_work(session_factory) as db:
        third_id = ledger.enqueue(db, disclosure(), now)
    assert leader.step().count == 1 and leader.leading
    with session_factory() as db:
        rows = db.scalars(select(LedgerEntry).order_by(LedgerEntry.index)).all()
        assert [row.entry_id for row in rows] == [first_id, second_id, third_id]
        assert [c.tree_size for c in db.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id))] == [
            1,
            2,
            3,
        ]


def test_an_idle_leader_renews_its_lease_only_when_half_spent(session_factory, now):
    clock = {"now": now}
    leader = Sequencer(
        new_ledger(),
        session_factory,
        SequencerPolicy(lease_seconds=10.0),
        holder="a",
        wall=lambda: clock["now"],
    )
    assert leader.step() is None and leader.leading
    assert leader.lease() == ("a", now + timedelta(seconds=10))
    clock["now"] = now + timedelta(seconds=4)
    leader.step()
    assert leader.lease() == ("a", now + timedelta(seconds=10))  # no write while idle and fresh
    clock["now"] = now + timedelta(seconds=6)
    leader.step()
    assert leader.lease() == ("a", now + timedelta(seconds=16))


def test_entries_arriving_within_the_checkpoint_interval_share_one_checkpoint(session_factory, now):
    """A quiet log is not signed once per entry: each entry is integrated at once, and one
    checkpoint a second covers whatever was integrated since the last."""
    clock = {"now": now}
    ledger = new_ledger()
    sequencer = Sequencer(
        ledger,
        session_factory,
        SequencerPolicy(checkpoint_interval_seconds=1.0),
        holder="only",
        clock=lambda: clock["now"],
        wall=lambda: clock["now"],
    )

    def release() -> str:
        with unit_of_work(session_factory) as db:
            return ledger.enqueue(db, disclosure(), now)

    def checkpoint_sizes() -> list[int]:
        with session_factory() as db:
            return [c.tree_size for c in db.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id))]

    accepted = [release()]
    first = sequencer.step()
    assert first.count == 1 and first.checkpoint is not None  # the first of a quiet period: at once
    for tenth in range(1, 10):  # nine more within the second that follows
        clock["now"] = now + timedelta(seconds=tenth / 10)
        accepted.append(release())
        batch = sequencer.step()
        assert batch.count == 1 and batch.checkpoint is None  # integrated, not signed
        with session_factory() as db:
            assert repository.read_frontier(db).tree_size == tenth + 1
    assert sequencer.step() is None and checkpoint_sizes() == [1]
    clock["now"] = now + timedelta(seconds=1.05)
    assert sequencer.step() is None  # nothing to integrate; the interval is over: signed
    assert checkpoint_sizes() == [1, 10]
    clock["now"] = now + timedelta(seconds=5)
    assert sequencer.step() is None and checkpoint_sizes() == [1, 10]  # nothing new, nothing signed
    accepted.append(release())
    assert sequencer.step().checkpoint is not None  # quiet for a while: signed at once
    # A one-shot drain leaves no entry unsigned, whatever the interval.
    clock["now"] = now + timedelta(seconds=5.2)
    accepted += [release(), release()]
    assert sequencer.drain() == 2
    assert checkpoint_sizes() == [1, 10, 11, 13] and sequencer.checkpoints == 4
    assert check_tree(session_factory, ledger, set(accepted)) == 4  # the export verifies offline


def test_a_release_commits_while_the_sequencer_holds_the_frontier(request, tmp_path):
    """Accepting takes no lock integrating holds (PostgreSQL: SQLite has one writer at a time)."""
    engine = create_db_engine(new_database_url("postgresql", request, tmp_path))
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        ledger = new_ledger()
        with unit_of_work(sessions) as db:
            ledger.enqueue(db, disclosure(), datetime.now(UTC))
        with sessions() as sequencing, sessions() as releasing:
            assert ledger.integrate(sequencing, datetime.now(UTC), limit=10).count == 1  # frontier locked
            releasing.execute(text("SET LOCAL lock_timeout = '2s'"))
            ledger.enqueue(releasing, disclosure(request_id="while-integrating"), datetime.now(UTC))
            releasing.commit()
            sequencing.commit()
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 1
            assert db.scalar(select(func.count()).select_from(QueuedDisclosure)) == 1
    finally:
        engine.dispose()


@contextmanager
def migrated_sessions(backend: str, request, tmp_path, timeouts: DatabaseTimeouts | None = None):
    """Sessions on a new, migrated database of ``backend``; its engine disposed of afterwards."""
    engine = create_db_engine(new_database_url(backend, request, tmp_path), timeouts)
    try:
        migrations.upgrade(engine)
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def test_on_sqlite_releases_commit_while_the_sequencer_hashes_its_batch(request, tmp_path, monkeypatch):
    """On SQLite a batch's reads and hashing take no write lock: a release commits while the
    sequencer hashes. (Inside the batch's write transaction they held up every request's
    writes for milliseconds per batch.)"""
    with migrated_sessions("sqlite", request, tmp_path, DatabaseTimeouts(lock=0.5)) as sessions:
        ledger = new_ledger()
        with unit_of_work(sessions) as db:
            first = ledger.enqueue(db, disclosure(), datetime.now(UTC))
        released: list[str | BaseException] = []

        def release() -> None:
            try:
                with unit_of_work(sessions) as db:
                    released.append(ledger.enqueue(db, disclosure(request_id="meanwhile"), datetime.now(UTC)))
            except BaseException as error:  # the lock never came: reported below
                released.append(error)

        hash_leaf = service.leaf_hash

        def leaf_hash_while_a_release_commits(data: bytes) -> bytes:
            if not released:
                writer = threading.Thread(target=release)
                writer.start()
                writer.join()
            return hash_leaf(data)

        monkeypatch.setattr(service, "leaf_hash", leaf_hash_while_a_release_commits)
        sequencer = Sequencer(ledger, sessions, SequencerPolicy(checkpoint_interval_seconds=0))
        batch = sequencer.step()
        assert batch is not None and batch.count == 1
        assert len(released) == 1 and isinstance(released[0], str), released
        assert sequencer.drain() == 1  # the release made meanwhile, in the next batch
        check_tree(sessions, ledger, {first, released[0]})


def test_a_batch_prepared_before_another_sequencer_moved_the_tree_is_not_stored(backend, request, tmp_path):
    with migrated_sessions(backend, request, tmp_path) as sessions:
        ledger, other = new_ledger(), new_ledger()
        now = datetime.now(UTC)
        with unit_of_work(sessions) as db:
            accepted = {ledger.enqueue(db, disclosure(request_id=f"r{n}"), now) for n in range(3)}
        with unit_of_work(sessions) as db:
            begin_read_only(db)
            prepared = ledger.prepare(db, limit=10, check_head=True)
        assert prepared is not None and len(prepared.claimed) == 3
        with unit_of_work(sessions) as db:  # another sequencer integrates two of them meanwhile
            assert other.integrate(db, now, limit=2).count == 2
        with unit_of_work(sessions) as db:
            assert ledger.store(db, prepared, now, sign=True) is None
        with unit_of_work(sessions) as db:
            batch = ledger.integrate(db, now, limit=10)
            assert batch is not None and (batch.first_index, batch.count) == (2, 1)
        check_tree(sessions, ledger, accepted)


def test_a_prepared_batch_whose_entries_left_the_queue_stores_nothing(backend, request, tmp_path):
    with migrated_sessions(backend, request, tmp_path) as sessions:
        ledger = new_ledger()
        now = datetime.now(UTC)
        with unit_of_work(sessions) as db:
            gone, kept = (ledger.enqueue(db, disclosure(request_id=f"r{n}"), now) for n in range(2))
        with unit_of_work(sessions) as db:
            begin_read_only(db)
            prepared = ledger.prepare(db, limit=10, check_head=True)
        with unit_of_work(sessions) as db:  # not the sequencer's doing: damage, or a rogue tool
            db.execute(delete(QueuedDisclosure).where(QueuedDisclosure.entry_id == gone))
        with pytest.raises(LedgerStateError), unit_of_work(sessions) as db:
            ledger.store(db, prepared, now, sign=True)
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 0
            assert repository.read_frontier(db).tree_size == 0
            assert db.scalars(select(QueuedDisclosure.entry_id)).all() == [kept]


# -- kill -9 -------------------------------------------------------------------------------------

QUEUED = 8_000


def _sequencer_process(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **{f"EGATE_{name.upper()}": str(value) for name, value in TEST_SETTINGS.items()},
        "EGATE_DATABASE_URL": url,
        "EGATE_DATA_DIR": str(data_dir),
        "EGATE_CONSENT_SEQUENCER_BATCH_SIZE": str(QUEUED),  # one long batch: killed inside it
        "EGATE_CONSENT_SEQUENCER_LEASE_SECONDS": "1",
        "EGATE_CONSENT_SEQUENCER_INTERVAL_SECONDS": "0.02",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "ledger", "sequence", "--loop"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


class BatchProbe:
    """Whether another connection is inside a batch: it holds the frontier row (PostgreSQL)
    or the write lock for a while (SQLite: three tries in 30 ms all fail). One connection of
    its own, kept open, so that a poll costs a millisecond."""

    def __init__(self, url: str) -> None:
        self.postgresql = url.startswith("postgresql")
        options = {} if self.postgresql else {"connect_args": {"timeout": 0, "isolation_level": None}}
        self.engine = create_engine(url, **options)
        self.connection = self.engine.connect()

    def integrating(self) -> bool:
        if self.postgresql:
            try:
                self.connection.execute(text("SELECT 1 FROM consent_ledger_frontier FOR UPDATE NOWAIT"))
                return False
            except OperationalError:
                return True
            finally:
                self.connection.rollback()
        for _ in range(3):
            try:
                self.connection.exec_driver_sql("BEGIN IMMEDIATE")
                self.connection.exec_driver_sql("ROLLBACK")
                return False
            except OperationalError:
                time.sleep(0.01)
        return True

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


@pytest.mark.faults
def test_a_sequencer_killed_mid_batch_loses_nothing_and_integrates_nothing_twice(backend, request, tmp_path):
    url = new_database_url(backend, request, tmp_path)
    engine = create_db_engine(url)
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        ledger = new_ledger()
        first = _sequencer_process(url, tmp_path)
        deadline = time.monotonic() + 60
        while True:  # the leader, idle: its lease is committed
            with sessions() as db:
                holder, _ = repository.read_lease(db)
            if holder is not None and f":{first.pid}:" in holder:
                break
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            assert time.monotonic() < deadline, "the sequencer never took the lease"
            time.sleep(0.02)
        with unit_of_work(sessions) as db:  # one commit: one batch takes them all
            drafts = [disclosure(f"resident-{i % 97}", request_id=f"r-{i}") for i in range(QUEUED)]
            accepted = set(ledger.enqueue_many(db, drafts, datetime.now(UTC)))
        probe = BatchProbe(url)
        try:
            while not probe.integrating():
                assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
                assert time.monotonic() < deadline, "the sequencer never started a batch"
                time.sleep(0.002)
        finally:
            probe.close()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        with sessions() as db:  # the batch died with its transaction: all still queued
            assert repository.queue_head(db)[0] == QUEUED
            assert repository.read_frontier(db).tree_size == 0
            holder, until = repository.read_lease(db)
            assert holder is not None and f":{first.pid}:" in holder  # the dead leader's lease holds

        second = _sequencer_process(url, tmp_path)
        killed_at = datetime.now(UTC)
        try:
            deadline = time.monotonic() + 120
            while True:
                with sessions() as db:
                    if not repository.has_queued(db):
                        break
                assert second.poll() is None
                assert time.monotonic() < deadline, "the next leader did not integrate the queue"
                time.sleep(0.05)
            assert datetime.now(UTC) >= until  # the successor waited for the lease to lapse
            assert datetime.now(UTC) - killed_at < timedelta(seconds=60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        with sessions() as db:
            assert repository.read_lease(db) == (None, None)  # resigned on SIGTERM
        assert check_tree(sessions, ledger, accepted) == 1  # one batch, one checkpoint
    finally:
        engine.dispose()


def _wait(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.faults
def test_a_sequencer_process_is_restarted_when_it_dies_and_resigns_when_stopped(request, tmp_path):
    """`egate serve` on PostgreSQL: the sequencer in a supervised process. Killed, it is
    started again and, naming the same server, takes its lease at once (the lease here is
    longer than the test waits); stopped, it signs what it integrated and gives the lease up."""
    url = new_database_url("postgresql", request, tmp_path)
    engine = create_db_engine(url)
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        ledger = new_ledger()
        policy = SequencerPolicy(lease_seconds=60, interval_seconds=0.02)
        spec = SequencerSpec(url, ORIGIN, b"k" * 32, ConsentConfig(sequencer=policy))
        process = SequencerProcess(spec)
        accepted: set[str] = set()

        def integrated() -> bool:
            with sessions() as db:
                return not repository.has_queued(db)

        process.start()
        try:
            for round_ in range(2):
                with unit_of_work(sessions) as db:
                    drafts = [disclosure(request_id=f"r-{round_}-{i}") for i in range(20)]
                    accepted |= set(ledger.enqueue_many(db, drafts, datetime.now(UTC)))
                _wait(integrated, "the sequencer process did not integrate the queue", timeout=45)
                with sessions() as db:
                    assert repository.read_lease(db)[0] == spec.holder
                if round_ == 0:
                    killed = process.pid
                    assert killed is not None
                    os.kill(killed, signal.SIGKILL)
                    _wait(lambda k=killed: process.pid != k and process.running, "no new sequencer process")
        finally:
            process.stop()
        assert process.starts == 2 and not process.running
        with sessions() as db:
            assert repository.read_lease(db) == (None, None)
        assert check_tree(sessions, ledger, accepted) >= 1
    finally:
        engine.dispose()


PARENT = """
import sys, time
from consent.ledger.sequencer import SequencerProcess, SequencerSpec
process = SequencerProcess(SequencerSpec(sys.argv[1], "testserver/consent/ledger", b"k" * 32))
process.start()
while not process.running:
    time.sleep(0.05)
print(process.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # ended, not yet reaped by whoever adopted it


@pytest.mark.faults
def test_a_sequencer_process_ends_with_the_server_killed_with_kill_9(request, tmp_path):
    """Else a replica killed with ``kill -9`` would leave its sequencer renewing the lease,
    and no other replica's would ever take over."""
    url = new_database_url("postgresql", request, tmp_path)
    engine = create_db_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    server = subprocess.Popen(
        [sys.executable, "-c", PARENT, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert not _gone(child)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    _wait(lambda: _gone(child), "the sequencer process outlived its server", timeout=10)


def test_unsigned_batches_on_their_own_tree_skip_the_head_check_and_the_next_signature_does_not(
    session_factory, now
):
    """Under load the sequencer integrates on the tree its own last batch committed without
    the head check's queries; damage done meanwhile is found before anything is signed."""
    clock = {"now": now}
    ledger = new_ledger()
    sequencer = Sequencer(
        ledger,
        session_factory,
        SequencerPolicy(checkpoint_interval_seconds=1.0),
        holder="only",
        clock=lambda: clock["now"],
        wall=lambda: clock["now"],
    )
    checks = []
    check_head = ledger.integrity.check_head
    ledger.integrity.check_head = lambda db, state, **kw: (
        checks.append(state.tree_size) or check_head(db, state, **kw)
    )

    def release() -> None:
        with unit_of_work(session_factory) as db:
            ledger.enqueue(db, disclosure(), now)

    release()
    assert sequencer.step().checkpoint is not None and checks == [0]  # signed: checked
    release()
    assert sequencer.step().checkpoint is None and checks == [0]  # on its own tree: not checked
    with unit_of_work(session_factory) as db:  # damage behind the ledger's back
        db.execute(
            text('INSERT INTO consent_ledger_nodes (level, "index", hash) VALUES (3, 999, :h)'),
            {"h": b"x" * 32},
        )
    release()
    assert sequencer.step().checkpoint is None and checks == [0]
    release()
    clock["now"] = now + timedelta(seconds=2)
    with pytest.raises(LedgerInconsistent, match="level 3, index 999"):
        sequencer.step()  # the next signature checks first
    assert checks == [0, 3]
    with session_factory() as db:
        assert repository.latest_checkpoint(db).tree_size == 1
