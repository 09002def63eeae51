"""Housekeeping: rows past their use (expired codes, tokens, sessions, delivered messages...)
removed in bounded batches, each in a short transaction of its own, so tables stay flat
under steady load and no purge holds a lock for long.

Each service declares its own :class:`Purge` functions (the SQL in its repositories, built
with :func:`delete_batch`); the composition root runs them all (:func:`purge_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from kit.db import session_scope

unit_of_work = contextmanager(session_scope)


@dataclass(frozen=True)
class Purge:
    """``run(db, now, limit)`` deletes at most ``limit`` rows no longer needed at ``now``
    and returns how many it deleted; ``name`` says which (a table's name, usually)."""

    name: str
    run: Callable[[Session, datetime, int], int]


def delete_batch(
    db: Session, table: Table, condition: ColumnElement[bool], limit: int, key: Sequence[Any] | None = None
) -> int:
    """Delete at most ``limit`` rows of ``table`` matching ``condition`` (by primary key)."""
    columns = list(key) if key is not None else list(table.primary_key.columns)
    chosen = select(*columns).where(condition).limit(limit)
    target = columns[0] if len(columns) == 1 else tuple_(*columns)
    result: Any = db.execute(delete(table).where(target.in_(chosen)))
    return int(result.rowcount)


def purge_all(
    sessions: sessionmaker[Session], purges: Iterable[Purge], now: datetime, batch_size: int = 1000
) -> dict[str, int]:
    """Run every purge to completion, one batch per transaction; rows deleted per name."""
    deleted: dict[str, int] = {}
    for purge in purges:
        total = 0
        while True:
            with unit_of_work(sessions) as db:
                count = purge.run(db, now, batch_size)
            total += count
            if count < batch_size:
                break
        deleted[purge.name] = deleted.get(purge.name, 0) + total
    return deleted
