"""The ledger checks itself: the head check (start-up, before every signature), the scan
(background), and what an inconsistent ledger refuses: signing, appending, proving."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update

from consent.config import CheckpointPolicy, ConsentConfig, IntegrityPolicy
from consent.ledger import repository
from consent.ledger.integrity import (
    BackgroundVerification,
    LedgerInconsistent,
    LedgerIntegrity,
    can_run_beside,
)
from consent.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerFrontier, MerkleNode
from consent.ledger.service import Ledger
from consent.port import LedgerConsentPort
from kit import migrations
from kit.db import DatabaseTimeouts, create_db_engine, create_session_factory, session_scope
from tests.consent.conftest import disclosure
from tests.consent.ledger import tampering as t
from tests.support.databases import new_database_url


def head_problem(integrity: LedgerIntegrity, db) -> str | None:
    try:
        integrity.check_head(db, repository.read_frontier(db), committed=True)
    except LedgerInconsistent as error:
        return error.reason
    return None


def checkpoints(db) -> int:
    return db.scalar(select(func.count()).select_from(LedgerCheckpoint))


def test_a_clean_ledger_passes_the_head_check_and_the_full_scan(db, runtime, ledger, now):
    assert ledger.integrity.status().state == "unchecked"
    t.seed(ledger, db, now)
    status = ledger.integrity.verify_head(runtime.sessions)
    assert (status.state, status.readiness, status.verified_size) == ("ok", "ok", 20)
    assert t.checked(ledger.integrity, db) is None
    assert ledger.integrity.status().scanned_size == 20
    assert ledger.integrity.status().scan_passes == 1


def test_the_head_check_reads_only_the_entries_since_the_checkpoint_or_its_last_pass(
    db, ledger, now, monkeypatch
):
    t.seed(ledger, db, now)
    for i in range(5):
        ledger.append(db, disclosure(request_id=f"late-{i}"), now)
    read: list[tuple[int, int]] = []
    original = repository.leaf_rows

    def recording(session, start, end):
        read.append((start, end))
        return original(session, start, end)

    monkeypatch.setattr(repository, "leaf_rows", recording)
    restarted = LedgerIntegrity()
    assert head_problem(restarted, db) is None
    assert read == [(20, 25)]  # from the latest checkpoint (20), not from 0
    ledger.append(db, disclosure(request_id="later"), now)
    read.clear()
    assert head_problem(restarted, db) is None
    assert read == [(25, 26)]  # from where it verified last


def test_signing_over_a_damaged_frontier_is_refused_and_so_are_appends(db, ledger, now):
    t.seed(ledger, db, now)
    ledger.append(db, disclosure(), now)
    state = repository.read_frontier(db)
    damaged = bytes([state.hashes[0] ^ 1]) + state.hashes[1:]
    db.execute(update(LedgerFrontier).values(hashes=damaged))
    before = checkpoints(db)
    with pytest.raises(LedgerInconsistent, match="stored frontier"):
        ledger.sign_checkpoint(db, now)
    assert checkpoints(db) == before
    status = ledger.integrity.status()
    assert status.state == "inconsistent" and status.readiness.startswith("inconsistent: the stored frontier")
    with pytest.raises(LedgerInconsistent):
        ledger.append(db, disclosure(), now)
    assert repository.read_frontier(db).tree_size == 21


def test_an_uncovered_entry_altered_before_the_next_signature_is_never_signed(db, ledger, now):
    t.seed(ledger, db, now)
    for i in range(3):
        ledger.append(db, disclosure(request_id=f"late-{i}"), now)
    t.edit_entry(db, 21, purpose="Something else")
    with pytest.raises(LedgerInconsistent, match="entry 21 does not match its stored leaf hash"):
        ledger.sign_checkpoint(db, now)
    assert ledger.latest_checkpoint(db).tree_size == 20


def test_an_append_that_would_sign_checks_the_head_first(db, runtime, now):
    ledger = Ledger(
        origin=t.ORIGIN,
        master_key=runtime.master_key,
        policy=CheckpointPolicy(max_entries=4, max_age=timedelta(days=1)),
    )
    for i in range(6):
        ledger.append(db, disclosure(request_id=f"r{i}"), now)  # signed at sizes 1 and 5
    t.edit_entry(db, 5, channel="userinfo")
    for i in range(2):
        ledger.append(db, disclosure(request_id=f"s{i}"), now)  # not due yet: no check, no query
    with pytest.raises(LedgerInconsistent, match="entry 5 does not match"):
        ledger.append(db, disclosure(request_id="due"), now)  # size 9: due to sign
    assert repository.read_frontier(db).tree_size == 8
    assert ledger.latest_checkpoint(db).tree_size == 5


def test_a_stray_row_past_the_end_is_an_inconsistency_not_a_500(db, ledger, now):
    t.seed(ledger, db, now)
    savepoint = db.begin_nested()
    t.stray_entry(db, 20)
    with pytest.raises(LedgerInconsistent, match=r"past the end of the tree \(size 20\)"):
        ledger.append(db, disclosure(), now)  # was: IntegrityError, a 500 on every write
    savepoint.rollback()
    assert ledger.integrity.status().state == "inconsistent"

    t.stray_entry(db, 20)
    restarted = LedgerIntegrity()
    assert head_problem(restarted, db) == "entry 20 lies past the end of the tree (size 20)"
    with pytest.raises(LedgerInconsistent):
        Ledger(origin=t.ORIGIN, master_key=None, integrity=restarted).append(db, disclosure(), now)


def test_a_stray_node_past_the_end_is_found_before_it_breaks_an_append(db, ledger, now):
    t.seed(ledger, db, now)
    db.execute(insert(MerkleNode).values(level=2, index=5, hash=bytes(32)))  # needs 24 entries
    assert head_problem(LedgerIntegrity(), db) == (
        "Merkle node at level 2, index 5 lies past the end of the tree (size 20)"
    )


def test_a_tree_behind_its_latest_checkpoint(db, ledger, now):
    t.seed(ledger, db, now)
    db.execute(update(LedgerFrontier).values(tree_size=16, hashes=repository.read_frontier(db).hashes[:32]))
    assert head_problem(LedgerIntegrity(), db) == (
        "the tree (size 16) is behind its latest signed checkpoint (size 20)"
    )


def test_a_missing_node_fails_the_head_check_and_proofs(db, ledger, now):
    t.seed(ledger, db, now)
    # 20 = 16 + 4: the latest checkpoint's tree is nodes (4, 0) and (2, 4).
    db.execute(delete(MerkleNode).where(MerkleNode.level == 2, MerkleNode.index == 4))
    assert head_problem(LedgerIntegrity(), db) == "the Merkle node at level 2, index 4 is missing"
    with pytest.raises(LedgerInconsistent, match="level 2, index 4 is missing"):
        Ledger(origin=t.ORIGIN, master_key=None).inclusion_proof(db, 17, 20)


def test_the_scan_finds_what_the_cheap_head_check_does_not_read(db, ledger, now):
    t.seed(ledger, db, now)
    t.edit_entry(db, 3, purpose="Something else")
    restarted = LedgerIntegrity()
    assert head_problem(restarted, db) is None  # entry 3 is far behind the latest checkpoint
    assert t.checked(restarted, db) == "entry 3 does not match its stored leaf hash"
    assert restarted.status().readiness == "inconsistent: entry 3 does not match its stored leaf hash"


def test_the_scan_checks_every_checkpoint_it_passes(db, ledger, now):
    t.seed(ledger, db, now)
    t.edit_entry(db, 3, purpose="Something else")
    t.rebuild_tree(db)  # leaves, nodes and frontier agree with the edited entry
    # The head check fails too (the tree at 20 is not the signed one); the scan alone:
    restarted = LedgerIntegrity()
    assert restarted.scan(db, 5) is False
    with pytest.raises(LedgerInconsistent, match="before the checkpoint at size 7 do not match its root"):
        restarted.scan(db, 5)


def test_a_forged_checkpoint_is_found(db, ledger, now):
    t.seed(ledger, db, now)
    t.forge_checkpoint(db, 20)
    assert head_problem(LedgerIntegrity(), db) == "the checkpoint at size 20 does not verify with its key"


def test_a_running_server_notices_a_tree_cut_back(db, ledger, now):
    t.seed(ledger, db, now)
    running = LedgerIntegrity()
    assert head_problem(running, db) is None
    t.cut_back(db, 16)
    assert head_problem(LedgerIntegrity(), db) is None  # nothing in the database betrays it
    assert head_problem(running, db) == "the checkpoint at size 20 is gone (the latest is now at size 16)"


def test_a_history_rewritten_behind_a_running_server_cannot_be_signed_over(db, runtime, ledger, now):
    t.seed(ledger, db, now)
    assert ledger.integrity.verify_head(runtime.sessions).state == "ok"
    # Someone with the master secret cuts back to 16 and signs another history up to 20.
    t.cut_back(db, 16)
    forger = Ledger(origin=t.ORIGIN, master_key=runtime.master_key)
    for i in range(4):
        forger.append(db, disclosure(resident_id="resident-x", request_id=f"forged-{i}"), now)
    forger.sign_checkpoint(db, now + timedelta(hours=1))
    ledger.append(db, disclosure(), now)  # not due to sign: no check, no query
    with pytest.raises(LedgerInconsistent, match="the stored tree at size 20, verified before, has changed"):
        ledger.sign_checkpoint(db, now)


def test_the_integrity_policy_comes_from_the_config(runtime):
    policy = IntegrityPolicy(entries_per_tick=5)
    port = LedgerConsentPort(runtime, ConsentConfig(integrity=policy))
    assert port.ledger.integrity.policy is policy


def test_a_session_factory_bound_to_one_connection_gets_no_background_thread(runtime, db_engine):
    assert not can_run_beside(runtime.sessions)  # the tests' rolled-back connection
    assert can_run_beside(create_session_factory(db_engine))


def test_background_verification_finds_tampering_in_a_running_server(backend, request, tmp_path):
    """A real database, committed appends, and the thread on sessions of its own."""
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        policy = IntegrityPolicy(interval_seconds=0.02, entries_per_tick=7, rescan_seconds=0.0)
        ledger = Ledger(origin=t.ORIGIN, master_key=b"k" * 32, integrity=LedgerIntegrity(policy))
        now = datetime.now(UTC)
        with contextmanager(session_scope)(sessions) as db:
            for i in range(30):
                ledger.append(db, disclosure(request_id=f"r{i}"), now)
        background = BackgroundVerification(ledger.integrity, sessions)
        background.start()
        try:
            _wait_for(lambda: ledger.integrity.status().scan_passes >= 1)
            assert ledger.integrity.status().state == "ok"
            with contextmanager(session_scope)(sessions) as db:
                db.execute(update(LedgerEntry).where(LedgerEntry.index == 2).values(purpose="Changed"))
            _wait_for(lambda: ledger.integrity.status().state == "inconsistent")
        finally:
            background.stop()
        assert ledger.integrity.status().reason == "entry 2 does not match its stored leaf hash"
        assert not background.running  # other tests' servers may run threads of their own
    finally:
        engine.dispose()


def test_the_background_scan_reads_while_a_writer_holds_the_sqlite_write_lock(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'scan.sqlite3'}", DatabaseTimeouts(lock=0.3))
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        policy = IntegrityPolicy(entries_per_tick=100)
        ledger = Ledger(origin=t.ORIGIN, master_key=b"k" * 32, integrity=LedgerIntegrity(policy))
        with contextmanager(session_scope)(sessions) as db:
            for i in range(12):
                ledger.append(db, disclosure(request_id=f"r{i}"), datetime.now(UTC))
        with sessions() as writer:
            writer.execute(update(LedgerEntry).where(LedgerEntry.index == 99).values(purpose="none"))
            with ThreadPoolExecutor(1) as thread:  # the background thread's place
                status = thread.submit(ledger.integrity.tick, sessions).result()
            writer.rollback()
        assert status.state != "inconsistent" and status.scanned_size == 12
    finally:
        engine.dispose()


def _wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
