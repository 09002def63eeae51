"""Every query of the accounts domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.accounts.models import Account, AccountEvent, RecoveryCode, VerificationCode
from identity.db import rows_changed
from kit.db import table_of
from kit.prepared import PreparedRead
from kit.purge import delete_batch


def get(db: Session, account_id: str) -> Account | None:
    return db.get(Account, account_id)


_ACCOUNTS = table_of(Account)
_STANDING = PreparedRead(
    select(_ACCOUNTS.c.kind, _ACCOUNTS.c.department, _ACCOUNTS.c.roles).where(
        _ACCOUNTS.c.id == bindparam("id")
    )
)


class SealedClaims(NamedTuple):
    """What the claims of an account are made from: its sealed fields and whether each
    contact is verified, and whether it is active. Read as columns, not an entity, in one
    statement: userinfo reads it on every call."""

    id: str
    profile_encrypted: str
    hkid_encrypted: str | None
    email_verified: bool
    phone_verified: bool
    active: bool


# The columns SealedClaims is made of, in order: userinfo reads them with the token
# (identity/oidc/token_reads.py), other callers by the account's id.
SEALED_CLAIMS_COLUMNS = (
    _ACCOUNTS.c.id,
    _ACCOUNTS.c.profile_encrypted,
    _ACCOUNTS.c.hkid_encrypted,
    _ACCOUNTS.c.email_verified_at,
    _ACCOUNTS.c.phone_verified_at,
    _ACCOUNTS.c.status,
)
_SEALED_CLAIMS = PreparedRead(select(*SEALED_CLAIMS_COLUMNS).where(_ACCOUNTS.c.id == bindparam("id")))


def sealed_claims(db: Session, account_id: str) -> SealedClaims | None:
    # PreparedRead flushes the session's pending changes first, as an ORM statement would.
    row = _SEALED_CLAIMS.first(db, {"id": account_id})
    return sealed_claims_of(row) if row is not None else None


def sealed_claims_of(columns: Sequence[Any]) -> SealedClaims | None:
    """SealedClaims from the values of ``SEALED_CLAIMS_COLUMNS`` (all None: no account, as an
    outer join gives it)."""
    id_, profile, hkid, email_verified_at, phone_verified_at, status = columns
    if id_ is None:
        return None
    return SealedClaims(
        id_, profile, hkid, email_verified_at is not None, phone_verified_at is not None, status == "active"
    )


class Standing(NamedTuple):
    """What an account is as a token holder: resident or staff, an officer's department and
    roles (read alone, without the encrypted profile)."""

    kind: str
    department: str | None
    roles: list[str]


class Credential(NamedTuple):
    """What a password sign-in reads of an account (no entity, no profile): its id, status,
    password hash and whether a second factor is confirmed."""

    id: str
    status: str
    password_hash: str
    has_totp: bool


_CREDENTIAL = select(
    _ACCOUNTS.c.id,
    _ACCOUNTS.c.status,
    _ACCOUNTS.c.password_hash,
    (_ACCOUNTS.c.totp_secret_encrypted.is_not(None) & _ACCOUNTS.c.totp_confirmed_at.is_not(None)).label(
        "has_totp"
    ),
)
_CREDENTIAL_BY = {
    column: PreparedRead(_CREDENTIAL.where(_ACCOUNTS.c[column] == bindparam("value")))
    for column in ("id", "email_index", "hkid_index", "username")
}


def credential(db: Session, column: str, value: str) -> Credential | None:
    """The credential of the account whose ``column`` (id, email_index, hkid_index or
    username: each unique) is ``value``; one lean read, the same shape for each column."""
    row = _CREDENTIAL_BY[column].first(db, {"value": value})
    return Credential(row[0], row[1], row[2], bool(row[3])) if row is not None else None


_SET_PASSWORD_HASH = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account_id"), _ACCOUNTS.c.password_hash == bindparam("old"))
    .values(password_hash=bindparam("new"))
)


def replace_password_hash(db: Session, account_id: str, old: str, new: str) -> None:
    """The same password hashed again (new parameters), unless the password changed meanwhile."""
    db.execute(_SET_PASSWORD_HASH, {"account_id": account_id, "old": old, "new": new})


def standing(db: Session, account_id: str) -> Standing | None:
    row = _STANDING.first(db, {"id": account_id})
    return Standing(row[0], row[1], list(row[2] or [])) if row is not None else None


def add_account(db: Session, account: Account) -> None:
    db.add(account)
    db.flush()


def add_unless_taken(db: Session, account: Account) -> bool:
    """Insert ``account`` under a savepoint; False when a unique index refuses it (a
    concurrent enrolment with the same identity card number won)."""
    try:
        with db.begin_nested():
            db.add(account)
    except IntegrityError:
        return False
    return True


def by_hkid_index(db: Session, digest: str) -> Account | None:
    return db.scalars(select(Account).where(Account.hkid_index == digest)).one_or_none()


def by_email_index(db: Session, digest: str) -> Account | None:
    return db.scalars(select(Account).where(Account.email_index == digest)).one_or_none()


def by_username(db: Session, username: str) -> Account | None:
    return db.scalars(select(Account).where(Account.username == username)).one_or_none()


def add_event(db: Session, event: AccountEvent) -> None:
    db.add(event)


_INSERT_EVENT = insert(table_of(AccountEvent))


def insert_event(
    db: Session,
    *,
    account_id: str,
    tag: str,
    occurred_at: datetime,
    source: str | None,
    user_agent: str | None,
    details: dict[str, object],
) -> None:
    """One event written at once with Core (no entity to build and flush)."""
    db.connection().execute(
        _INSERT_EVENT,
        {
            "account_id": account_id,
            "tag": tag,
            "occurred_at": occurred_at,
            "source": source,
            "user_agent": user_agent,
            "details": details,
        },
    )


def events(db: Session, account_id: str, limit: int = 100) -> Sequence[AccountEvent]:
    return db.scalars(
        select(AccountEvent)
        .where(AccountEvent.account_id == account_id)
        .order_by(AccountEvent.occurred_at.desc(), AccountEvent.id.desc())
        .limit(limit)
    ).all()


def claim_totp_step(db: Session, account_id: str, step: int) -> bool:
    """Record ``step`` as used unless a concurrent request already used it or a later one
    (RFC 6238 §5.2: a code is accepted once)."""
    result = db.execute(
        update(Account)
        .where(Account.id == account_id)
        .where(or_(Account.totp_last_step.is_(None), Account.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return rows_changed(result) == 1


def unused_recovery_codes(db: Session, account_id: str) -> Sequence[RecoveryCode]:
    return db.scalars(
        select(RecoveryCode)
        .where(RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))
        .order_by(RecoveryCode.id)
    ).all()


def use_recovery_code(db: Session, code_id: int, now: datetime) -> bool:
    result = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return rows_changed(result) == 1


def add_recovery_codes(db: Session, account_id: str, code_hashes: list[str]) -> None:
    db.add_all(RecoveryCode(account_id=account_id, code_hash=code_hash) for code_hash in code_hashes)


def delete_recovery_codes(db: Session, account_id: str) -> None:
    for row in db.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account_id)):
        db.delete(row)


def add_code(db: Session, code: VerificationCode) -> None:
    db.add(code)


def live_codes(db: Session, account_id: str, purpose: str, now: datetime) -> Sequence[VerificationCode]:
    return db.scalars(
        select(VerificationCode)
        .where(
            VerificationCode.account_id == account_id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
            VerificationCode.expires_at > now,
        )
        .order_by(VerificationCode.id.desc())
    ).all()


def codes_sent_since(db: Session, account_id: str, purpose: str, since: datetime) -> int:
    rows = db.scalars(
        select(VerificationCode.id).where(
            VerificationCode.account_id == account_id,
            VerificationCode.purpose == purpose,
            VerificationCode.expires_at > since,
        )
    ).all()
    return len(rows)


def retire_codes(db: Session, account_id: str, purpose: str, now: datetime) -> None:
    db.execute(
        update(VerificationCode)
        .where(
            VerificationCode.account_id == account_id,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def all_encrypted_accounts(db: Session) -> Sequence[Account]:
    return db.scalars(select(Account).order_by(Account.id)).all()


def purge_verification_codes(db: Session, now: datetime, limit: int) -> int:
    """Housekeeping: codes past their expiry, used or not."""
    table = table_of(VerificationCode)
    return delete_batch(db, table, table.c.expires_at < now, limit)
