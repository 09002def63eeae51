"""Every query of the sessions domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from identity.db import rows_changed
from identity.sessions.models import BrowserSession, PendingSignin
from identity.tokens.models import IssuedToken
from kit.db import table_of
from kit.purge import delete_batch


def get(db: Session, session_id: str) -> BrowserSession | None:
    return db.get(BrowserSession, session_id)


def by_cookie_hash(db: Session, cookie_hash: str) -> BrowserSession | None:
    return db.scalars(select(BrowserSession).where(BrowserSession.cookie_hash == cookie_hash)).one_or_none()


def add(db: Session, row: BrowserSession | PendingSignin) -> None:
    db.add(row)


_INSERT_SESSION = insert(table_of(BrowserSession))


def insert_session(db: Session, values: dict[str, object]) -> None:
    """A new session written at once with Core (no entity to build and flush)."""
    db.connection().execute(_INSERT_SESSION, values)


def live_for_account(db: Session, account_id: str, now: datetime) -> Sequence[BrowserSession]:
    return db.scalars(
        select(BrowserSession)
        .where(
            BrowserSession.account_id == account_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
        .order_by(BrowserSession.last_seen_at.desc())
    ).all()


def end(db: Session, session_id: str, now: datetime) -> bool:
    result = db.execute(
        update(BrowserSession)
        .where(BrowserSession.id == session_id, BrowserSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return rows_changed(result) == 1


def end_all(db: Session, account_id: str, now: datetime, keep: str | None = None) -> int:
    query = update(BrowserSession).where(
        BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(BrowserSession.id != keep)
    result = db.execute(query.values(ended_at=now).execution_options(synchronize_session="fetch"))
    return rows_changed(result)


def revoke_tokens_of_account(db: Session, account_id: str, now: datetime) -> int:
    """Revoke every outstanding access and refresh token of the account (password reset)."""
    result = db.execute(
        update(IssuedToken)
        .where(IssuedToken.account_id == account_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result)


def get_pending(db: Session, pending_id: str) -> PendingSignin | None:
    return db.get(PendingSignin, pending_id)


def delete_pending(db: Session, pending_id: str) -> None:
    db.execute(delete(PendingSignin).where(PendingSignin.id == pending_id))


def delete_expired_pending(db: Session, account_id: str, now: datetime) -> None:
    db.execute(
        delete(PendingSignin).where(PendingSignin.account_id == account_id, PendingSignin.expires_at <= now)
    )


def ids_approved_by_device(db: Session, device_id: str) -> set[str]:
    return set(db.scalars(select(BrowserSession.id).where(BrowserSession.device_id == device_id)))


def end_many(db: Session, session_ids: Collection[str], now: datetime) -> None:
    db.execute(
        update(BrowserSession)
        .where(BrowserSession.id.in_(session_ids), BrowserSession.ended_at.is_(None))
        .values(ended_at=now)
    )


# -- housekeeping (egate maintenance) ---------------------------------------------------------


def purge_sessions(db: Session, now: datetime, limit: int) -> int:
    """Sessions past their absolute expiry (ended or not: either way no cookie opens them)."""
    table = table_of(BrowserSession)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_pending_signins(db: Session, now: datetime, limit: int) -> int:
    table = table_of(PendingSignin)
    return delete_batch(db, table, table.c.expires_at < now, limit)
