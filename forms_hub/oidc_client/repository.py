"""Every query of the forms hub's relying-party state: its client registration, the
authorization requests in flight, its browser sessions and the kept prefill tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from forms_hub.oidc_client.models import (
    AuthRequest,
    HubSession,
    LogoutTokenJti,
    PrefillToken,
    RelyingPartyClient,
)
from kit.db import table_of
from kit.purge import delete_batch

_CLIENT_ROW = 1  # the hub has exactly one registration with the provider

# -- the hub's own client --------------------------------------------------------------------


def client_registration(db: Session) -> RelyingPartyClient | None:
    return db.get(RelyingPartyClient, _CLIENT_ROW)


def save_client_registration(db: Session, client_id: str, secret_sealed: str, now: datetime) -> None:
    row = client_registration(db)
    if row is None:
        db.add(
            RelyingPartyClient(
                id=_CLIENT_ROW, client_id=client_id, secret_sealed=secret_sealed, updated_at=now
            )
        )
    else:
        row.client_id, row.secret_sealed, row.updated_at = client_id, secret_sealed, now
    db.flush()


# -- authorization requests ------------------------------------------------------------------


def add_auth_request(db: Session, row: AuthRequest, now: datetime) -> None:
    """Store a new request, clearing the abandoned ones on the way."""
    db.execute(delete(AuthRequest).where(AuthRequest.expires_at < now))
    db.add(row)
    db.flush()


def take_auth_request(db: Session, state_hash: str) -> AuthRequest | None:
    """Delete and return the request ``state_hash`` names, in one statement: of two callbacks
    racing with the same ``state`` only one gets the row."""
    return db.scalar(
        delete(AuthRequest)
        .where(AuthRequest.state_hash == state_hash)
        .returning(AuthRequest)
        .execution_options(synchronize_session=False)
    )


# -- sessions --------------------------------------------------------------------------------


def add_session(db: Session, row: HubSession, now: datetime) -> None:
    """Store a new session, clearing the expired ones on the way."""
    db.execute(delete(HubSession).where(HubSession.expires_at < now))
    db.add(row)
    db.flush()


def get_session(db: Session, id_hash: str) -> HubSession | None:
    return db.get(HubSession, id_hash)


def delete_session(db: Session, id_hash: str) -> None:
    db.execute(delete(HubSession).where(HubSession.id_hash == id_hash))


# -- prefill tokens --------------------------------------------------------------------------


def prefill_tokens(db: Session, submission_id: str) -> PrefillToken | None:
    return db.get(PrefillToken, submission_id)


def save_prefill_tokens(
    db: Session,
    submission_id: str,
    sub: str,
    tokens_sealed: str,
    claims: list[str],
    now: datetime,
    sid: str | None = None,
) -> None:
    row = prefill_tokens(db, submission_id)
    if row is None:
        db.add(
            PrefillToken(
                submission_id=submission_id,
                sub=sub,
                tokens_sealed=tokens_sealed,
                claims=claims,
                created_at=now,
                sid=sid,
            )
        )
    else:
        row.sub, row.tokens_sealed, row.claims, row.created_at = sub, tokens_sealed, claims, now
        row.sid = sid or row.sid
    db.flush()


def delete_prefill_tokens(db: Session, submission_id: str) -> None:
    db.execute(delete(PrefillToken).where(PrefillToken.submission_id == submission_id))


# -- back-channel logout ---------------------------------------------------------------------


def record_logout_jti(db: Session, jti: str, expires_at: datetime, now: datetime) -> bool:
    """Remember a logout token's ``jti``; False when it was seen before (a replay), also
    when another request records it at the same moment."""
    db.execute(delete(LogoutTokenJti).where(LogoutTokenJti.expires_at < now))
    if db.get(LogoutTokenJti, jti) is not None:
        return False
    try:
        with db.begin_nested():
            db.add(LogoutTokenJti(jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


def _named(
    sub_column: InstrumentedAttribute[str],
    sid_column: InstrumentedAttribute[str | None],
    sub: str | None,
    sid: str | None,
) -> ColumnElement[bool]:
    """Rows of the session ``sid`` names (of ``sub``, when it is named too), or else every row
    of ``sub`` (Back-Channel Logout 1.0 §2.7)."""
    if sid is None:
        return sub_column == sub
    if sub is None:
        return sid_column == sid
    return and_(sid_column == sid, sub_column == sub)


def delete_sessions_named(db: Session, sub: str | None, sid: str | None) -> int:
    result = db.execute(
        delete(HubSession)
        .where(_named(HubSession.sub, HubSession.sid, sub, sid))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_prefill_tokens_named(db: Session, sub: str | None, sid: str | None) -> None:
    db.execute(
        delete(PrefillToken)
        .where(_named(PrefillToken.sub, PrefillToken.sid, sub, sid))
        .execution_options(synchronize_session=False)
    )


# -- housekeeping (egate maintenance) ---------------------------------------------------------


def purge_sessions(db: Session, now: datetime, limit: int) -> int:
    table = table_of(HubSession)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_auth_requests(db: Session, now: datetime, limit: int) -> int:
    table = table_of(AuthRequest)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_logout_token_jtis(db: Session, now: datetime, limit: int) -> int:
    table = table_of(LogoutTokenJti)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_prefill_tokens(db: Session, before: datetime, limit: int) -> int:
    """Prefill tokens stored before ``before``: their refresh tokens have expired by then,
    so they can no longer re-check a draft's verified values."""
    table = table_of(PrefillToken)
    return delete_batch(db, table, table.c.created_at < before, limit)
