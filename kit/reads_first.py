"""Work whose reads run before, and apart from, its writes: reads, then inserts only.

On SQLite every write transaction holds the one write lock, across processes too (the lock
file of ``kit.db``), from its BEGIN IMMEDIATE to its COMMIT. A hot path such as userinfo
reads a token, an account and a consent, builds its answer and then inserts one ledger
entry: held for the whole of that, the lock serialised ``egate serve --workers N`` so that
two workers answered no more than one (docs/performance.md). Here the work runs in a read
transaction, which in WAL mode neither waits for a writer nor makes one wait, while its
inserts are collected; they are then written with the inserts of the other requests whose
reads ended in the same turn of the event loop, in one short write transaction
(``kit.database_work.run_database_work(..., reads_first=True)``, ``kit.insert_batches``).

Only inserts may wait: their effect does not depend on what the row's table holds when they
run, so writing them a moment after the reads is what writing them with the reads would have
done, had the request come that moment later. (A unique or foreign key an insert breaks by
then raises, and the work runs again the usual way.) An UPDATE or DELETE does depend on it:
it raises :class:`NotDeferrable`, as does any other statement that is not a SELECT
(``kit.db``); either way the work is rolled back and runs again from the start as one write
transaction. Only what the work wrote is deferred; nothing it answers is sent
before its inserts are committed and durable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Writes its rows in the transaction of the session it is given: the work's own, or that of
# the batch the inserts of several requests are written in (``kit.insert_batches``).
Insert = Callable[["Session"], None]

# Writes rows, each the parameters of one execution of the same INSERT.
RowsWriter = Callable[["Session", Sequence[Mapping[str, Any]]], object]


@dataclass(frozen=True)
class RowsInsert:
    """An insert of ``rows`` by ``writer``, one object for every request that inserts into
    that table that way (a ``PreparedWrite``'s, the ledger queue's): a batch writes the rows
    of all its requests' inserts by one writer in one execution of it (``kit.insert_batches``)."""

    writer: RowsWriter
    rows: Sequence[Mapping[str, Any]]

    def __call__(self, db: Session) -> None:
        self.writer(db, self.rows)


_collected: ContextVar[list[Insert] | None] = ContextVar("egate_collected_inserts", default=None)


class NotDeferrable(BaseException):
    """A write in reads-first work that cannot wait for the reads to end. A BaseException, so
    that no ``except Exception`` on the way mistakes it for the failure of what it stopped."""


@contextmanager
def collecting_inserts(into: list[Insert]) -> Iterator[None]:
    """Inserts made in the block (``insert_now_or_after_reads``) go to ``into``."""
    marker = _collected.set(into)
    try:
        yield
    finally:
        _collected.reset(marker)


def collecting_inserts_now() -> bool:
    """Whether the caller runs in reads-first work."""
    return _collected.get() is not None


def insert_now_or_after_reads(db: Session, insert: Insert) -> None:
    """Run ``insert`` now in ``db`` or, in reads-first work, once the work's reads have ended."""
    collected = _collected.get()
    if collected is None:
        insert(db)
    else:
        collected.append(insert)


def write_now(what: str) -> None:
    """Call before a write that must see the rows as the work read them (an UPDATE): in
    reads-first work it raises :class:`NotDeferrable`; elsewhere it does nothing."""
    if _collected.get() is not None:
        raise NotDeferrable(what)
