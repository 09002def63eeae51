"""Every query on authorization codes, issued tokens, assertion ``jti``s and pairwise
subjects: the storage under the OpenID Provider's grants and endpoints."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from identity.db import rows_changed
from identity.tokens.models import (
    AssertionJti,
    AuthorizationCode,
    CodeView,
    DpopProofSeen,
    IssuedToken,
    PushedAuthorizationRequest,
    ReauthenticationDemand,
    SubjectRecord,
    TokenView,
)
from kit.db import Base, table_of
from kit.prepared import PreparedRead, PreparedWrite
from kit.purge import delete_batch

# -- authorization codes ---------------------------------------------------------------------


_CODES = table_of(AuthorizationCode)
_CODE_FIELDS = tuple(f.name for f in fields(CodeView))
_INSERT_CODE = insert(_CODES)


def add_code(db: Session, row: CodeView) -> None:
    """One Core INSERT: the code is not read again in this request."""
    db.execute(_INSERT_CODE, {name: getattr(row, name) for name in _CODE_FIELDS})


_CODE_LOCKED = PreparedRead(
    select(*(_CODES.c[f.name] for f in fields(CodeView)))
    .where(_CODES.c.code_hash == bindparam("key"))
    .with_for_update()
)
_CLAIMS_REQUEST = PreparedRead(select(_CODES.c.claims_request).where(_CODES.c.code_hash == bindparam("key")))
_CODE_USED = PreparedWrite(
    update(_CODES)
    .where(_CODES.c.code_hash == bindparam("key"), _CODES.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)


def claims_request(db: Session, code_hash: str) -> dict[str, Any] | None:
    """The ``claims`` parameter (OIDC Core §5.5) of the request a code was issued for, read
    alone: what a refresh and userinfo need of the code their grant descends from."""
    value = _CLAIMS_REQUEST.scalar(db, {"key": code_hash})
    return value if isinstance(value, dict) else None


def code_for_update(db: Session, code_hash: str) -> CodeView | None:
    """The code row, locked: two redemptions of one code must not both succeed."""
    row = _CODE_LOCKED.first(db, {"key": code_hash})
    return CodeView(*row) if row is not None else None


def mark_code_used(db: Session, code_hash: str, now: datetime) -> None:
    """Kept, marked used, rather than deleted: a replay must be recognised (RFC 6749 §4.1.2)."""
    _CODE_USED.run(db, [{"key": code_hash, "now": now}])


# -- issued tokens ---------------------------------------------------------------------------


_ISSUED = table_of(IssuedToken)


_TOKEN_FIELDS = tuple(f.name for f in fields(TokenView))
# Built once: a statement built per call costs a third of its execution again.
_INSERT_TOKENS = PreparedWrite(insert(_ISSUED), columns=_TOKEN_FIELDS)


def add_tokens(db: Session, rows: Iterable[TokenView]) -> None:
    """Insert what a grant issued with one statement through the driver (``PreparedWrite``):
    the rows are written once and never read back in the request, so ORM entities and the
    unit of work (identity map, flush ordering, post-fetch) would only add cost to every
    grant, and SQLAlchemy's execution layer cost more than the insert itself."""
    _INSERT_TOKENS.run(db, [{name: getattr(row, name) for name in _TOKEN_FIELDS} for row in rows])


def get(db: Session, jti: str) -> IssuedToken | None:
    return db.get(IssuedToken, jti)


def _viewing(where: Any) -> Select[Any]:
    return select(*(_ISSUED.c[f.name] for f in fields(TokenView))).where(where)


_VIEW_BY_JTI = PreparedRead(_viewing(_ISSUED.c.jti == bindparam("key")))
_VIEW_BY_HASH = PreparedRead(_viewing(_ISSUED.c.token_hash == bindparam("key")))
_REFRESH_LOCKED = PreparedRead(
    select(*(_ISSUED.c[f.name] for f in fields(TokenView)), _CODES.c.claims_request)
    .select_from(_ISSUED.outerjoin(_CODES, _CODES.c.code_hash == _ISSUED.c.code_hash))
    .where(_ISSUED.c.token_hash == bindparam("key"))
    .with_for_update(of=_ISSUED)
)


def _view(db: Session, read: PreparedRead, key: str) -> TokenView | None:
    row = read.first(db, {"key": key})
    return TokenView(*row) if row is not None else None


def view(db: Session, jti: str) -> TokenView | None:
    """The token named ``jti``, read only (one SELECT, no entity)."""
    return _view(db, _VIEW_BY_JTI, jti)


def view_by_hash(db: Session, token_hash: str) -> TokenView | None:
    return _view(db, _VIEW_BY_HASH, token_hash)


def refresh_for_update(db: Session, token_hash: str) -> tuple[TokenView, dict[str, Any] | None] | None:
    """A refresh token's row, locked so that two concurrent rotations of one token see each
    other, with the ``claims`` parameter of the code its grant descends from (the refreshed
    ID token's claims, OIDC Core §12.2): one statement for both."""
    row = _REFRESH_LOCKED.first(db, {"key": token_hash})
    if row is None:
        return None
    *columns, claims_request = row
    return TokenView(*columns), claims_request if isinstance(claims_request, dict) else None


_SPEND = PreparedWrite(
    update(_ISSUED)
    .where(_ISSUED.c.jti == bindparam("key"), _ISSUED.c.spent_at.is_(None))
    .values(spent_at=bindparam("now"))
)
_REVOKE = (
    update(_ISSUED)
    .where(_ISSUED.c.jti == bindparam("key"), _ISSUED.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)


def spend(db: Session, jti: str, now: datetime) -> None:
    """Mark a refresh token rotated away (kept: a reuse must be recognised)."""
    _SPEND.run(db, [{"key": jti, "now": now}])


def revoke(db: Session, jti: str, now: datetime) -> None:
    """Revoke one token (RFC 7009); a revocation already made keeps its time."""
    db.execute(_REVOKE, {"key": jti, "now": now})


def access_token_refused(db: Session, jti: str) -> bool:
    """True unless ``jti`` is an access token we issued and have not revoked: a resource
    server of this deployment asks it for a token that otherwise verifies (a token we hold
    no row for was not issued by this provider's storage, so it is refused too)."""
    row = db.execute(
        select(IssuedToken.revoked_at).where(IssuedToken.jti == jti, IssuedToken.kind == "access")
    ).first()
    return row is None or row.revoked_at is not None


def revoke_from_code(db: Session, code_hash: str, now: datetime) -> None:
    """Everything issued from one authorization code (a replayed code, RFC 6749 §4.1.2)."""
    db.execute(
        update(IssuedToken)
        .where(IssuedToken.code_hash == code_hash, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_family(db: Session, family_id: str, now: datetime) -> None:
    """Every token descended from the same grant (RFC 9700 §4.14.2, RFC 7009 §2.1)."""
    db.execute(
        update(IssuedToken)
        .where(IssuedToken.family_id == family_id, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_of_sessions(db: Session, session_ids: Collection[str], now: datetime) -> None:
    db.execute(
        update(IssuedToken)
        .where(IssuedToken.session_id.in_(session_ids), IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# -- sign-ins an authorization request demanded -------------------------------------------


def add_demand(db: Session, row: ReauthenticationDemand, now: datetime) -> None:
    db.execute(delete(ReauthenticationDemand).where(ReauthenticationDemand.expires_at <= now))
    db.add(row)


def demand(db: Session, handle_hash: str) -> ReauthenticationDemand | None:
    return db.get(ReauthenticationDemand, handle_hash)


def spend_demand(db: Session, handle_hash: str, now: datetime) -> bool:
    """Marks the demand used; False when it already was (two requests racing with one
    handle: exactly one wins)."""
    result = db.execute(
        update(ReauthenticationDemand)
        .where(ReauthenticationDemand.handle_hash == handle_hash, ReauthenticationDemand.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


# -- private_key_jwt assertions --------------------------------------------------------------


def record_assertion_jti(db: Session, jti: str, client_id: str, expires_at: datetime) -> bool:
    """Remember a client assertion's ``jti``; False when it was already used (RFC 7523 §3)."""
    if db.get(AssertionJti, (jti, client_id)) is not None:
        return False
    db.add(AssertionJti(jti=jti, client_id=client_id, expires_at=expires_at))
    db.flush()
    return True


# -- pairwise subjects -----------------------------------------------------------------------


@cache
def _insert_or_nothing(
    dialect: str, model: type[Base], index_elements: tuple[str, ...], returning: str | None = None
) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` of every column of ``model``, built once per
    dialect (built per call it costs ten times its execution: the dialect's construct is not
    found in the compiled cache)."""
    table = table_of(model)
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    values: dict[str, Any] = {column.key: bindparam(column.key) for column in table.columns}
    statement = insert.values(values).on_conflict_do_nothing(index_elements=list(index_elements))
    return statement.returning(table.c[returning]) if returning else statement


_SUBJECTS_ADDED = "identity.tokens.subjects_added"


def remember_subject(db: Session, sector: str, sub: str, account_id: str) -> bool:
    """One statement, read nothing: a pair already remembered stays as it is (a ``sub`` is
    derived from the account, so it always names the same one).

    True when the pair was already remembered by a committed transaction: the insert did
    nothing, and not because of a row this transaction added (on PostgreSQL a conflicting
    insert waits for the other transaction's outcome; on SQLite there is one writer)."""
    statement = _insert_or_nothing(db.get_bind().dialect.name, SubjectRecord, ("sector", "sub"), "sector")
    inserted = (
        db.execute(statement, {"sector": sector, "sub": sub, "account_id": account_id}).first() is not None
    )  # RETURNING: the driver's rowcount of an insert that did nothing is not always 0
    transaction = db.get_transaction()
    known = db.info.get(_SUBJECTS_ADDED)
    if known is None or known[0] is not transaction:
        known = db.info[_SUBJECTS_ADDED] = (transaction, set())
    added: set[tuple[str, str]] = known[1]
    if inserted:
        added.add((sector, sub))
        return False
    return (sector, sub) not in added


def subject(db: Session, sector: str, sub: str) -> SubjectRecord | None:
    return db.get(SubjectRecord, (sector, sub))


# -- DPoP proofs seen (RFC 9449 §11.1) -------------------------------------------------------


def record_dpop_proof(db: Session, key_hash: str, expires_at: datetime, now: datetime) -> bool:
    """Remember a proof; False when it was already seen. One statement (an insert that does
    nothing on conflict), so two workers offered the same proof at once cannot both win.
    Now and then (one insert in 64) forgets the proofs that can no longer be replayed."""
    if int(key_hash[:2], 16) < 4:
        db.execute(delete(DpopProofSeen).where(DpopProofSeen.expires_at <= now))
    statement = _insert_or_nothing(db.get_bind().dialect.name, DpopProofSeen, ("key_hash",), "key_hash")
    return (
        db.execute(statement, {"key_hash": key_hash, "expires_at": expires_at}).scalar_one_or_none()
        is not None
    )


# -- pushed authorization requests (RFC 9126) -------------------------------------------------


def add_pushed_request(db: Session, row: PushedAuthorizationRequest, now: datetime) -> None:
    db.execute(
        delete(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.expires_at <= now, PushedAuthorizationRequest.opened_at.is_(None)
        )
    )
    db.add(row)


def pushed_request(db: Session, request_uri_hash: str) -> PushedAuthorizationRequest | None:
    return db.get(PushedAuthorizationRequest, request_uri_hash)


def spend_pushed_request(db: Session, request_uri_hash: str, now: datetime) -> bool:
    """Marks the pushed request used by the code it led to; False when another request
    already did (one pushed request, one code)."""
    result = db.execute(
        update(PushedAuthorizationRequest)
        .where(
            PushedAuthorizationRequest.request_uri_hash == request_uri_hash,
            PushedAuthorizationRequest.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


# -- housekeeping (egate maintenance) ---------------------------------------------------------


def purge_codes(db: Session, now: datetime, limit: int) -> int:
    """Expired codes that no unexpired token descends from. A token's grant keeps its code:
    userinfo reads the ``claims`` request (``verified_claims``) from it, and a replayed
    code is recognised (and its tokens revoked) while any of them lives."""
    still_needed = exists().where(_ISSUED.c.code_hash == _CODES.c.code_hash, _ISSUED.c.expires_at >= now)
    return delete_batch(db, _CODES, (_CODES.c.expires_at < now) & ~still_needed, limit)


def purge_tokens(db: Session, now: datetime, limit: int) -> int:
    return delete_batch(db, _ISSUED, _ISSUED.c.expires_at < now, limit)


def purge_reauthentication_demands(db: Session, now: datetime, limit: int) -> int:
    table = table_of(ReauthenticationDemand)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_pushed_requests(db: Session, now: datetime, opened_before: datetime, limit: int) -> int:
    """Expired pushed requests never opened, or opened before ``opened_before`` (a sign-in
    begun from one may outlast its ``expires_at``)."""
    table = table_of(PushedAuthorizationRequest)
    done = (table.c.opened_at.is_(None)) | (table.c.opened_at < opened_before)
    return delete_batch(db, table, (table.c.expires_at < now) & done, limit)


def purge_dpop_proofs(db: Session, now: datetime, limit: int) -> int:
    table = table_of(DpopProofSeen)
    return delete_batch(db, table, table.c.expires_at < now, limit)


def purge_assertion_jtis(db: Session, now: datetime, limit: int) -> int:
    table = table_of(AssertionJti)
    return delete_batch(db, table, table.c.expires_at < now, limit)
