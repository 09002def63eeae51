"""Every query of back-channel logout: who holds tokens from the sessions that ended, and the
queue of logout tokens owed to departments."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from identity.backchannel.models import DELIVERED, FAILED, PENDING, LogoutDelivery
from identity.clients.models import Client
from identity.db import rows_changed
from identity.tokens.models import AuthorizationCode, IssuedToken
from kit.db import table_of
from kit.purge import delete_batch

# (client_id, session_id): a client that holds a code or a token issued in that session.
Holding = tuple[str, str | None]


def holders_of_sessions(db: Session, session_ids: Collection[str]) -> set[Holding]:
    if not session_ids:
        return set()
    ids = list(session_ids)
    tokens = select(IssuedToken.client_id, IssuedToken.session_id).where(IssuedToken.session_id.in_(ids))
    codes = select(AuthorizationCode.client_id, AuthorizationCode.session_id).where(
        AuthorizationCode.session_id.in_(ids)
    )
    return {(row[0], row[1]) for query in (tokens, codes) for row in db.execute(query.distinct())}


def holders_of_account(db: Session, account_id: str, since: datetime) -> set[Holding]:
    """Clients holding a code or token of the account that was still valid at ``since``."""
    tokens = select(IssuedToken.client_id, IssuedToken.session_id).where(
        IssuedToken.account_id == account_id, IssuedToken.expires_at > since
    )
    codes = select(AuthorizationCode.client_id, AuthorizationCode.session_id).where(
        AuthorizationCode.account_id == account_id, AuthorizationCode.expires_at > since
    )
    return {(row[0], row[1]) for query in (tokens, codes) for row in db.execute(query.distinct())}


def logout_clients(db: Session, client_ids: Collection[str]) -> Sequence[Client]:
    """Of these clients, the enabled ones registered for back-channel logout."""
    if not client_ids:
        return []
    return db.scalars(
        select(Client).where(
            Client.client_id.in_(list(client_ids)),
            Client.backchannel_logout_uri.is_not(None),
            Client.disabled.is_(False),
        )
    ).all()


def add(db: Session, rows: Iterable[LogoutDelivery]) -> None:
    db.add_all(rows)
    db.flush()


def get(db: Session, delivery_id: int) -> LogoutDelivery | None:
    return db.get(LogoutDelivery, delivery_id)


def due(db: Session, now: datetime, limit: int) -> list[int]:
    return list(
        db.scalars(
            select(LogoutDelivery.id)
            .where(LogoutDelivery.state == PENDING, LogoutDelivery.next_attempt_at <= now)
            .order_by(LogoutDelivery.next_attempt_at, LogoutDelivery.id)
            .limit(limit)
        )
    )


def claim(db: Session, delivery_id: int, now: datetime, lease_until: datetime) -> bool:
    """Take one due delivery for an attempt: the next attempt moves to ``lease_until``, so a
    second worker (another replica, the retry job) does not send it at the same time, and a
    worker that dies mid-attempt leaves it to be tried again then. False when another took it."""
    result = db.execute(
        update(LogoutDelivery)
        .where(
            LogoutDelivery.id == delivery_id,
            LogoutDelivery.state == PENDING,
            LogoutDelivery.next_attempt_at <= now,
        )
        .values(
            next_attempt_at=lease_until,
            attempts=LogoutDelivery.attempts + 1,
            last_attempt_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )
    return rows_changed(result) == 1


def listing(db: Session, *, failed_only: bool, limit: int) -> Sequence[LogoutDelivery]:
    query = select(LogoutDelivery).order_by(LogoutDelivery.id.desc()).limit(limit)
    if failed_only:
        query = query.where(LogoutDelivery.state == FAILED)
    return db.scalars(query).all()


def failed_ids(db: Session) -> list[int]:
    return list(db.scalars(select(LogoutDelivery.id).where(LogoutDelivery.state == FAILED)))


def purge_finished(db: Session, before: datetime, limit: int) -> int:
    """Housekeeping: deliveries done with (delivered, or given up) before ``before``."""
    table = table_of(LogoutDelivery)
    finished_at = func.coalesce(table.c.delivered_at, table.c.last_attempt_at, table.c.created_at)
    done = table.c.state.in_((DELIVERED, FAILED)) & (finished_at < before)
    return delete_batch(db, table, done, limit)
