"""Ways to tamper with a stored ledger behind the service's back, as someone with write
access to the database would: plain SQL on the tables, never through the ledger."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from consent.ledger import repository
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.integrity import LedgerInconsistent, LedgerIntegrity
from consent.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerFrontier, MerkleNode
from consent.ledger.rfc9162 import MemoryMerkleLog, leaf_hash
from consent.ledger.service import Ledger
from tests.consent.conftest import disclosure

ENTRIES = LedgerEntry.__table__
NODES = MerkleNode.__table__
ORIGIN = "testserver/consent/ledger"


def seed(ledger: Ledger, db: Session, now: datetime, count: int = 20) -> None:
    """``count`` entries; checkpoints at sizes 1 (first append), 7, 16 and ``count``."""
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
        if i + 1 in (7, 16):
            ledger.sign_checkpoint(db, now + timedelta(seconds=i))
    ledger.sign_checkpoint(db, now + timedelta(minutes=1))


@contextmanager
def sessions_of(db: Session):
    """A session factory handing out the test's own session (an export opens several)."""
    yield db


def session_factory(db: Session):
    return lambda: sessions_of(db)


def checked(integrity: LedgerIntegrity, db: Session) -> str | None:
    """Run the head check and a full scan from index 0 (as the background one does again
    and again) on ``db``; the inconsistency found, if any."""
    try:
        integrity.check_head(db, repository.read_frontier(db), committed=True)
        integrity.restart_scan()
        while not integrity.scan(db, 7):
            pass
    except LedgerInconsistent as error:
        return error.reason
    return None


def leaves(db: Session) -> list[tuple[int, bytes]]:
    rows = repository.leaf_rows(db, 0, 2**62)
    return [(row[0], leaf_hash(canonical_entry_bytes(repository.entry_from_row(row)))) for row in rows]


def rebuild_tree(db: Session) -> None:
    """What a thorough forger does after changing entries: every leaf hash, node and the
    frontier recomputed from the entries as they now are (checkpoints cannot be re-signed)."""
    log = MemoryMerkleLog()
    for index, digest in leaves(db):
        db.execute(update(ENTRIES).where(ENTRIES.c.index == index).values(leaf_hash=digest))
        log.append(digest)
    db.execute(delete(NODES))
    for level in range(1, log.size.bit_length()):
        count = log.size >> level
        if count:
            db.execute(
                insert(NODES),
                [{"level": level, "index": i, "hash": log.get_node(level, i)} for i in range(count)],
            )
    set_frontier(db, log)
    db.expire_all()


def set_frontier(db: Session, log: MemoryMerkleLog) -> None:
    hashes = b"".join(log.get_node(level, index) for level, index in _positions(log.size))
    db.execute(update(LedgerFrontier).values(tree_size=log.size, hashes=hashes))


def _positions(size: int) -> list[tuple[int, int]]:
    result, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            result.append((level, start >> level))
            start += 1 << level
    return result


def edit_entry(db: Session, index: int, **values: object) -> None:
    db.execute(update(ENTRIES).where(ENTRIES.c.index == index).values(**values))
    db.expire_all()


def rehash_entry(db: Session, index: int) -> None:
    digest = dict(leaves(db))[index]
    edit_entry(db, index, leaf_hash=digest)


def delete_entry(db: Session, index: int) -> None:
    db.execute(delete(ENTRIES).where(ENTRIES.c.index == index))
    db.expire_all()


def renumber(db: Session, start: int, delta: int) -> None:
    """Move entries ``start..`` by ``delta``, one row at a time so no two share an index."""
    indices = db.scalars(select(ENTRIES.c.index).where(ENTRIES.c.index >= start)).all()
    for index in sorted(indices, reverse=delta > 0):
        db.execute(update(ENTRIES).where(ENTRIES.c.index == index).values(index=index + delta))
    db.expire_all()


def insert_entry(db: Session, index: int) -> None:
    """A forged entry at ``index``, the later ones moved up to make room."""
    renumber(db, index, 1)
    row = db.execute(select(ENTRIES).where(ENTRIES.c.index == index + 1)).mappings().one()
    db.execute(insert(ENTRIES).values({**row, "index": index, "entry_id": "dl-forged", "purpose": "Forged"}))
    db.expire_all()


def swap_entries(db: Session, first: int, second: int) -> None:
    rows = {
        row["index"]: dict(row)
        for row in db.execute(select(ENTRIES).where(ENTRIES.c.index.in_([first, second]))).mappings()
    }
    edit_entry(db, first, entry_id="dl-swapping")
    for target, source in ((second, first), (first, second)):
        values = {k: v for k, v in rows[source].items() if k != "index"}
        edit_entry(db, target, **values)


def checkpoint_rows(db: Session, size: int) -> list[LedgerCheckpoint]:
    return list(db.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size == size)))


def forge_checkpoint(db: Session, size: int) -> None:
    """Change the root in the note's text (its signature then no longer matches)."""
    for row in checkpoint_rows(db, size):
        lines = row.note.split("\n")
        lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]
        db.execute(
            update(LedgerCheckpoint).where(LedgerCheckpoint.id == row.id).values(note="\n".join(lines))
        )
    db.expire_all()


def move_checkpoint(db: Session, size: int, to: int) -> None:
    db.execute(update(LedgerCheckpoint).where(LedgerCheckpoint.tree_size == size).values(tree_size=to))
    db.expire_all()


def delete_checkpoints_above(db: Session, size: int) -> None:
    db.execute(delete(LedgerCheckpoint).where(LedgerCheckpoint.tree_size > size))
    db.expire_all()


def cut_back(db: Session, size: int) -> None:
    """The log as it was at ``size``, consistently: later entries, nodes and checkpoints
    gone, the frontier put back. Nothing inside the database betrays it."""
    db.execute(delete(ENTRIES).where(ENTRIES.c.index >= size))
    delete_checkpoints_above(db, size)
    rebuild_tree(db)


def stray_entry(db: Session, index: int) -> None:
    """A row at ``index`` past the end of the tree (a copy of entry 0 under a new id)."""
    row = db.execute(select(ENTRIES).where(ENTRIES.c.index == 0)).mappings().one()
    db.execute(insert(ENTRIES).values({**row, "index": index, "entry_id": f"dl-stray-{index}"}))
    db.expire_all()
