"""Concurrent appends from several connections: no gaps, no duplicate indices, a tree that
matches its entries, and checkpoints that verify. Runs on a real file-backed SQLite
database and a real PostgreSQL database, each freshly migrated (not the rolled-back
per-test transaction: the writers must really commit against each other)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from consent.config import CheckpointPolicy
from consent.ledger import repository
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.models import LedgerCheckpoint, LedgerEntry, MerkleNode
from consent.ledger.rfc9162 import MemoryMerkleLog, leaf_hash
from consent.ledger.service import DisclosureView, Ledger
from consent.ledger.verifier import verify_export
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
from tests.consent.conftest import disclosure
from tests.support.databases import new_database_url

WRITERS = 6
APPENDS_EACH = 40
BATCH = 5


def test_concurrent_appends_leave_no_gaps_and_no_duplicates(backend, request, tmp_path):
    engine = create_db_engine(new_database_url(backend, request, tmp_path), pool_size=WRITERS + 2)
    try:
        migrations.upgrade(engine)
        sessions = create_session_factory(engine)
        ledger = Ledger(
            origin="testserver/consent/ledger",
            master_key=b"k" * 32,
            policy=CheckpointPolicy(max_entries=17),
        )
        start = threading.Barrier(WRITERS)
        errors: list[BaseException] = []
        claimed: list[int] = []
        lock = threading.Lock()

        def writer(number: int) -> None:
            try:
                start.wait()
                for i in range(APPENDS_EACH):
                    with contextmanager(session_scope)(sessions) as db:
                        if i % 10 == 9:  # some batched appends too
                            drafts = [
                                disclosure(f"resident-{number}", request_id=f"w{number}-{i}-{j}")
                                for j in range(BATCH)
                            ]
                            done = ledger.append_many(db, drafts, datetime.now(UTC))
                        else:
                            done = [
                                ledger.append(
                                    db,
                                    disclosure(f"resident-{number}", request_id=f"w{number}-{i}"),
                                    datetime.now(UTC),
                                )
                            ]
                    with lock:
                        claimed.extend(a.index for a in done)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors
        total = WRITERS * (APPENDS_EACH + (APPENDS_EACH // 10) * (BATCH - 1))
        assert sorted(claimed) == list(range(total))

        with sessions() as db:
            rows = db.scalars(select(LedgerEntry).order_by(LedgerEntry.index)).all()
            assert [row.index for row in rows] == list(range(total))
            assert len({row.entry_id for row in rows}) == total
            log = MemoryMerkleLog()
            for row in rows:
                digest = leaf_hash(canonical_entry_bytes(DisclosureView.of(row).entry()))
                assert digest == row.leaf_hash
                log.append(digest)
            for node in db.scalars(select(MerkleNode)):
                assert node.hash == log.get_node(node.level, node.index)
            assert repository.read_frontier(db).tree_size == total
            assert ledger.root(db, total) == log.root()
            for checkpoint in db.scalars(select(LedgerCheckpoint)):
                assert checkpoint.root_hash == log.root(checkpoint.tree_size)
            vkey = ledger.verifier_key(db, datetime.now(UTC)).vkey
        report = verify_export(ledger.export_lines(sessions), vkey, allow_uncovered_tail=True)
        assert report.ok, report.first_error
        assert report.entries_checked == total and report.checkpoints_checked >= total // 17
    finally:
        engine.dispose()
