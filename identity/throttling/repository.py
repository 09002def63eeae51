from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.throttling.models import LoginThrottle


def get_many(db: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    if not keys:
        return {}
    rows = db.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return {row.key: row for row in rows}


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
