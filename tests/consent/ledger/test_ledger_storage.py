"""The ledger on a database: appends keep the frontier and the node rows in step with an
in-memory RFC 9162 tree, proofs verify, checkpoints are signed on schedule and on demand,
and an export from the database verifies offline — until the database is tampered with."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from consent.config import CheckpointPolicy
from consent.ledger import repository
from consent.ledger.checkpoint import public_key_from_vkey, verify_signed_checkpoint
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.models import LedgerCheckpoint, LedgerEntry, MerkleNode
from consent.ledger.rfc9162 import (
    MemoryMerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from consent.ledger.service import (
    DisclosureView,
    InvalidDisclosure,
    Ledger,
    LedgerInconsistent,
    LedgerKeyUnavailable,
    ProofRangeError,
    disclosure_at,
)
from consent.ledger.verifier import verify_export
from tests.consent.conftest import disclosure


def append(ledger: Ledger, db, now, count: int, **kwargs) -> list:
    return [ledger.append(db, disclosure(request_id=f"req-{i}", **kwargs), now) for i in range(count)]


def memory_log(db) -> MemoryMerkleLog:
    log = MemoryMerkleLog()
    for view in db.scalars(select(LedgerEntry).order_by(LedgerEntry.index)):
        log.append(leaf_hash(canonical_entry_bytes(DisclosureView.of(view).entry())))
    return log


def test_appends_number_entries_from_zero_and_store_every_completed_subtree(db, ledger, now):
    appended = append(ledger, db, now, 13)
    assert [a.index for a in appended] == list(range(13))
    log = memory_log(db)
    assert [a.leaf_hash for a in appended] == [log.get_node(0, i) for i in range(13)]
    # 13 leaves complete 6 + 3 + 1 perfect subtrees above the leaves.
    stored = {(n.level, n.index): n.hash for n in db.scalars(select(MerkleNode))}
    assert len(stored) == 10
    assert all(log.get_node(level, index) == digest for (level, index), digest in stored.items())
    state = repository.read_frontier(db)
    assert state.tree_size == 13
    assert ledger.root(db, 13) == log.root()


def test_the_stored_entry_is_exactly_what_was_hashed(db, ledger, now):
    appended = ledger.append(
        db,
        disclosure(fields=("email", "sub", "email", "name#zh-HK"), purpose='續期駕駛執照 "renewal"'),
        now,
    )
    view = disclosure_at(db, appended.index)
    assert view.fields == ("email", "name#zh-HK", "sub")
    assert view.recorded_at == now
    assert leaf_hash(canonical_entry_bytes(view.entry())) == appended.leaf_hash == view.leaf_hash


def test_basis_follows_grant_or_legal_basis(db, ledger, now):
    consent = ledger.append(db, disclosure(grant_id="cg-1"), now)
    legal = ledger.append(db, disclosure(grant_id=None, legal_basis="Cap. 374 s. 42"), now)
    sign_in = ledger.append(db, disclosure(grant_id=None, fields=("sub",)), now)
    assert disclosure_at(db, consent.index).basis == "consent"
    assert disclosure_at(db, legal.index).basis == "legal"
    assert disclosure_at(db, sign_in.index).basis == "sign-in"


@pytest.mark.parametrize(
    "bad",
    [
        dict(fields=()),
        dict(fields=("",)),
        dict(purpose=""),
        dict(resident_id=""),
        dict(channel=""),
    ],
)
def test_a_disclosure_the_ledger_cannot_hold_is_refused_and_changes_nothing(db, ledger, now, bad):
    append(ledger, db, now, 2)
    with pytest.raises(InvalidDisclosure):
        ledger.append(db, disclosure(**bad), now)
    assert repository.read_frontier(db).tree_size == 2
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_a_missing_request_id_is_recorded_as_unattributed(db, ledger, now):
    appended = ledger.append(db, disclosure(request_id=None), now)
    assert disclosure_at(db, appended.index).request_id.startswith("unattributed-")


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 21, 32, 33])
def test_inclusion_and_consistency_proofs_verify_at_every_size(db, ledger, now, size):
    append(ledger, db, now, size)
    for tree_size in range(1, size + 1):
        root = ledger.root(db, tree_size)
        for index in range(tree_size):
            proof = ledger.inclusion_proof(db, index, tree_size)
            assert proof.root_hash == root
            assert verify_inclusion(proof.leaf_hash, index, tree_size, proof.path, root)
        for old_size in range(tree_size + 1):
            c = ledger.consistency_proof(db, old_size, tree_size)
            assert verify_consistency(old_size, tree_size, c.old_root, c.new_root, c.path)


def test_proofs_outside_the_log_are_refused(db, ledger, now):
    append(ledger, db, now, 4)
    for call in (
        lambda: ledger.inclusion_proof(db, 4, 4),
        lambda: ledger.inclusion_proof(db, 0, 5),
        lambda: ledger.consistency_proof(db, 3, 5),
        lambda: ledger.consistency_proof(db, 4, 3),
        lambda: ledger.root(db, 5),
    ):
        with pytest.raises(ProofRangeError):
            call()


def test_a_proof_reads_a_logarithmic_number_of_rows(db, ledger, now):
    ledger.append_many(db, [disclosure(request_id=f"r{i}") for i in range(1000)], now)
    wanted = []
    original = repository.nodes

    def counting(session, keys):
        wanted.extend(keys)
        return original(session, keys)

    repository.nodes = counting
    try:
        proof = ledger.inclusion_proof(db, 517, 1000)
    finally:
        repository.nodes = original
    assert len(proof.path) == 10
    assert len(set(wanted)) <= 2 * 10 + 2


def test_checkpoints_are_signed_on_the_first_append_then_by_count_and_by_age(db, runtime, now):
    ledger = Ledger(
        origin="testserver/consent/ledger",
        master_key=runtime.master_key,
        policy=CheckpointPolicy(max_entries=5, max_age=timedelta(minutes=10)),
    )
    for i in range(12):
        ledger.append(db, disclosure(request_id=f"r{i}"), now + timedelta(seconds=i))
    ledger.append(db, disclosure(), now + timedelta(minutes=30))
    sizes = db.scalars(select(LedgerCheckpoint.tree_size).order_by(LedgerCheckpoint.id)).all()
    assert sizes == [1, 6, 11, 13]
    key = public_key_from_vkey(ledger.verifier_key(db, now).vkey)
    for row in db.scalars(select(LedgerCheckpoint)):
        checkpoint = verify_signed_checkpoint(row.note, key.public_key, key.key_name)
        assert checkpoint.tree_size == row.tree_size
        assert checkpoint.root_hash == ledger.root(db, row.tree_size)
        assert checkpoint.origin == "testserver/consent/ledger"


def test_on_demand_checkpoint_signs_the_current_head(db, ledger, now):
    append(ledger, db, now, 3)
    checkpoint = ledger.sign_checkpoint(db, now + timedelta(seconds=5))
    assert checkpoint.tree_size == 3
    assert checkpoint.root_hash == ledger.root(db, 3)
    assert checkpoint.timestamp == int((now + timedelta(seconds=5)).timestamp())
    assert ledger.latest_checkpoint(db).note == checkpoint.note
    assert ledger.latest_checkpoint(db, 1).tree_size == 1


def test_an_empty_log_can_be_checkpointed(db, ledger, now):
    checkpoint = ledger.sign_checkpoint(db, now)
    assert checkpoint.tree_size == 0
    report = verify_export(ledger.export_lines(_sessions(db)), ledger.verifier_key(db, now).vkey)
    assert report.ok and report.checkpoints_checked == 1


def test_without_the_master_secret_a_ledger_appends_but_cannot_sign(db, now):
    ledger = Ledger(origin="testserver/consent/ledger", master_key=None)
    ledger.append(db, disclosure(), now)
    assert ledger.latest_checkpoint(db) is None
    with pytest.raises(LedgerKeyUnavailable):
        ledger.sign_checkpoint(db, now)


def test_the_signing_key_is_stored_sealed_and_reopens_in_another_process(db, runtime, ledger, now):
    from consent.ledger.models import LedgerSigningKey

    ledger.sign_checkpoint(db, now)
    row = db.scalars(select(LedgerSigningKey)).one()
    assert len(row.private_key_sealed) == 12 + 32 + 16
    other = Ledger(origin="ignored-once-a-key-exists", master_key=runtime.master_key)
    checkpoint = other.sign_checkpoint(db, now)
    key = public_key_from_vkey(ledger.verifier_key(db, now).vkey)
    assert verify_signed_checkpoint(checkpoint.note, key.public_key, key.key_name).tree_size == 0


def _sessions(db):
    """A session factory handing out the test's own session (export opens several)."""
    from contextlib import contextmanager

    @contextmanager
    def factory():
        yield db

    return factory


def _export(ledger: Ledger, db, through=None) -> list[str]:
    return list(ledger.export_lines(_sessions(db), through=through))


def _consent_and_legal(ledger: Ledger, db, now, count: int) -> None:
    for i in range(count):
        legal = i % 4 == 3
        ledger.append(
            db,
            disclosure(
                resident_id=f"resident-{i % 3}",
                grant_id=None if legal else f"cg-{i}",
                legal_basis="Cap. 115 s. 61" if legal else None,
                request_id=f"req-{i}",
            ),
            now + timedelta(seconds=i),
        )
        if i in (6, 15):
            ledger.sign_checkpoint(db, now + timedelta(seconds=i))


def test_export_from_the_database_verifies_offline(db, ledger, now):
    _consent_and_legal(ledger, db, now, 20)
    ledger.sign_checkpoint(db, now + timedelta(minutes=1))
    lines = _export(ledger, db)
    assert sum(json.loads(line)["type"] == "checkpoint" for line in lines) == 4
    report = verify_export(lines, ledger.verifier_key(db, now).vkey, origin="testserver/consent/ledger")
    assert report.ok, report.first_error
    assert report.entries_checked == 20 and report.last_checkpoint.tree_size == 20


def test_export_stops_where_asked_and_reports_uncovered_entries(db, ledger, now):
    _consent_and_legal(ledger, db, now, 20)
    vkey = ledger.verifier_key(db, now).vkey
    assert verify_export(_export(ledger, db, through=16), vkey).ok
    report = verify_export(_export(ledger, db), vkey)
    assert not report.ok and report.uncovered_entries == 4
    assert verify_export(_export(ledger, db), vkey, allow_uncovered_tail=True).ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("purpose", "Something else"),
        ("fields", ["email", "hkid_number", "sub"]),
        ("recipient_department", "IRD"),
        ("resident_id", "resident-9"),
        ("grant_id", "cg-forged"),
    ],
)
def test_tampering_with_a_stored_entry_is_caught_by_the_offline_verifier(db, ledger, now, column, value):
    _consent_and_legal(ledger, db, now, 20)
    ledger.sign_checkpoint(db, now + timedelta(minutes=1))
    vkey = ledger.verifier_key(db, now).vkey
    assert verify_export(_export(ledger, db), vkey).ok
    db.execute(update(LedgerEntry).where(LedgerEntry.index == 9).values({column: value}))
    db.expire_all()
    report = verify_export(_export(ledger, db), vkey)
    assert not report.ok
    assert "checkpoint at size 16 does not match" in report.first_error


def test_deleting_a_stored_entry_stops_the_export_and_an_edited_export_fails(db, ledger, now):
    _consent_and_legal(ledger, db, now, 20)
    ledger.sign_checkpoint(db, now + timedelta(minutes=1))
    vkey = ledger.verifier_key(db, now).vkey
    lines = _export(ledger, db)
    entry_lines = [i for i, line in enumerate(lines) if '"type":"entry"' in line]
    # An export with one entry removed, two swapped, or one inserted fails verification.
    removed = lines[: entry_lines[4]] + lines[entry_lines[4] + 1 :]
    swapped = list(lines)
    swapped[entry_lines[4]], swapped[entry_lines[5]] = swapped[entry_lines[5]], swapped[entry_lines[4]]
    inserted = lines[: entry_lines[4]] + [lines[entry_lines[4]]] + lines[entry_lines[4] :]
    for tampered in (removed, swapped, inserted):
        assert not verify_export(tampered, vkey).ok
    from consent.ledger.repository import LedgerStateError

    db.execute(LedgerEntry.__table__.delete().where(LedgerEntry.__table__.c.index == 4))
    with pytest.raises(LedgerStateError):
        _export(ledger, db)


def test_sign_in_entries_verify_offline(db, ledger, now):
    ledger.append(db, disclosure(grant_id=None, fields=("sub",)), now)
    ledger.append(db, disclosure(), now)
    ledger.sign_checkpoint(db, now)
    assert verify_export(_export(ledger, db), ledger.verifier_key(db, now).vkey).ok


def test_a_frontier_behind_its_entries_cannot_overwrite_them(db, runtime, ledger, now):
    from consent.ledger.models import LedgerFrontier

    append(ledger, db, now, 3)
    savepoint = db.begin_nested()
    db.execute(update(LedgerFrontier).values(tree_size=0, hashes=b""))
    # Reported as an inconsistency (503 in the services), not an IntegrityError (a 500).
    with pytest.raises(LedgerInconsistent, match="past the end of the tree"):
        ledger.append(db, disclosure(), now)
    savepoint.rollback()
    # Found inconsistent is final for this process; once repaired, a restarted one appends on.
    with pytest.raises(LedgerInconsistent):
        ledger.append(db, disclosure(), now)
    restarted = Ledger(
        origin="testserver/consent/ledger", master_key=runtime.master_key, policy=ledger.policy
    )
    assert restarted.append(db, disclosure(), now).index == 3


def test_writers_with_stale_frontier_hints_fall_back_to_the_lock(db, runtime, ledger, now):
    """On PostgreSQL an append first tries the frontier its process last wrote
    (compare-and-set); two ledgers taking turns always hold a stale one."""
    other = Ledger(origin="testserver/consent/ledger", master_key=runtime.master_key, policy=ledger.policy)
    for i in range(12):
        (ledger if i % 3 else other).append(db, disclosure(request_id=f"r{i}"), now)
        if i == 7:
            other.sign_checkpoint(db, now + timedelta(seconds=1))  # moves only the checkpoint fields
    rows = db.scalars(select(LedgerEntry).order_by(LedgerEntry.index)).all()
    assert [row.index for row in rows] == list(range(12))
    log = memory_log(db)
    assert ledger.root(db, 12) == log.root()
    assert repository.read_frontier(db).checkpoint_size == 8
    assert all(node.hash == log.get_node(node.level, node.index) for node in db.scalars(select(MerkleNode)))
