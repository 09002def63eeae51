from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.throttling.models import LoginThrottle
from kit.db import table_of
from kit.prepared import PreparedRead

COUNTERS = table_of(LoginThrottle)


class CounterReading(NamedTuple):
    """A counter as read before an attempt: plain values, no ORM object (the read runs on
    every client authentication, where building and tracking entities cost more than the
    query)."""

    key: str
    failures: int
    last_failure_at: datetime | None
    locked_until: datetime | None
    notified_at: datetime | None


@cache
def _reading_statement(count: int) -> PreparedRead:
    # One statement per number of keys (2 to 4 in practice), with plain bound parameters:
    # an "expanding" IN would be re-rendered on every execution.
    keys: list[Any] = [bindparam(f"k{i}") for i in range(count)]
    columns = COUNTERS.c
    return PreparedRead(
        select(
            columns.key, columns.failures, columns.last_failure_at, columns.locked_until, columns.notified_at
        ).where(columns.key.in_(keys))
    )


def get_many(db: Session, keys: list[str]) -> dict[str, CounterReading]:
    if not keys:
        return {}
    parameters = {f"k{i}": key for i, key in enumerate(keys)}
    rows = _reading_statement(len(keys)).all(db, parameters)
    return {row[0]: CounterReading(*row) for row in rows}


def get_for_update(db: Session, key: str) -> LoginThrottle:
    """The counter row, locked (PostgreSQL) so concurrent failures are all counted."""
    row = db.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one_or_none()
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = LoginThrottle(key=key, failures=0)
            db.add(row)
    except IntegrityError:  # created meanwhile by a concurrent request
        row = db.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
    return row


def clear(db: Session, keys: list[str]) -> None:
    """Delete the counters that exist (a success with no failure before it writes nothing)."""
    if keys:
        db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
