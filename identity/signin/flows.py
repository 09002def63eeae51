"""Sign-in as a sequence of steps: password, then (when the account has one) the second
factor; or a step-up of a live session to the second-factor level.

Policy:

* an account with confirmed TOTP is always asked for its second factor at password sign-in
  (the session reaches ``ACR_MFA``, amr ``pwd otp``); an account without it reaches
  ``ACR_BASIC`` (amr ``pwd``);
* a live session below ``ACR_MFA`` whose client asks for ``ACR_MFA`` is stepped up: the
  person enters only the second factor, the session keeps its id and gets the new level,
  ``auth_time`` and a new cookie (the old one stops working);
* an unknown identifier and a wrong password cost the same (one argon2id verification), give
  the same message and are throttled alike (identity/throttling/service.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.service import RequestMeta
from identity.assurance import ACR_BASIC, ACR_MFA, AMR_OTP, AMR_PASSWORD, acr_satisfies
from identity.security.hashing import PooledHasher
from identity.security.keyring import Keyring
from identity.sessions import repository, service
from identity.sessions.models import PendingSignin
from identity.sessions.service import SessionPolicy, SignedInSession
from identity.throttling import service as throttling

PENDING_COOKIE = "egate_pending"
PENDING_TTL = timedelta(minutes=5)
PENDING_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Failed:
    error: str  # message code, e.g. "signin.wrong", "signin.locked"
    locked_until: datetime | None = None


@dataclass(frozen=True)
class NeedsSecondFactor:
    pending_token: str


@dataclass(frozen=True)
class SignedIn:
    session: SignedInSession
    new_cookie_token: str | None  # set when a session began or was re-authenticated


Outcome = Failed | NeedsSecondFactor | SignedIn


def password_signin(
    db: Session,
    *,
    keyring: Keyring,
    hasher: PooledHasher,
    policy: SessionPolicy,
    now: datetime,
    identifier: str,
    password: str,
    client_host: str | None,
    meta: RequestMeta,
    existing: SignedInSession | None,
    next_path: str,
) -> Outcome:
    source = throttling.source_key(client_host)
    account = accounts.find_by_identifier(db, keyring, identifier or "")
    subject = (
        throttling.account_key(account.id)
        if account is not None
        else throttling.identifier_key(accounts.identifier_throttle_digest(keyring, identifier or ""))
    )
    lock, failures = throttling.check(db, subject, source, now)
    if lock is not None:
        return Failed("signin.locked", lock.until)
    account_id = account.id if account is not None else None
    stored_hash = account.password_hash if account is not None else None
    # Nothing is written yet: end the read transaction before the ~20 ms hash, so that no
    # database lock or connection is held while the CPU works (on SQLite, BEGIN IMMEDIATE
    # holds the write lock from the first read and would serialise concurrent sign-ins).
    db.rollback()
    if stored_hash is None:
        hasher.dummy_verify(password or "")
        ok, new_hash = False, None
    else:
        ok, new_hash = hasher.verify_and_maybe_rehash(stored_hash, password or "")
    # Read again (the same query whether or not the account exists: equal work either way).
    account = accounts_repository.get(db, account_id or "-")
    if account is not None and account.password_hash != stored_hash:
        ok = False  # the password changed meanwhile: the one typed was checked against the old
    if not ok:
        return _failure(db, account, subject, source, meta, now, "signin.wrong")
    assert account is not None
    if new_hash is not None:
        account.password_hash = new_hash  # parameters changed since the hash was made
    if account.status != accounts.ACTIVE:
        return Failed("signin.suspended")
    if accounts.has_totp(account):
        same = existing if existing is not None and existing.account_id == account.id else None
        return NeedsSecondFactor(_pending(db, now, account.id, same, next_path))
    return _complete(db, policy, now, account, ACR_BASIC, [AMR_PASSWORD], existing, meta, failures)


def begin_step_up(db: Session, now: datetime, session: SignedInSession, next_path: str) -> str:
    return _pending(db, now, session.account_id, session, next_path)


def needs_step_up(db: Session, session: SignedInSession, requested_acr: str | None) -> bool:
    if requested_acr != ACR_MFA or acr_satisfies(session.acr, ACR_MFA):
        return False
    account = accounts_repository.get(db, session.account_id)
    return account is not None and accounts.has_totp(account)


def pending_signin(db: Session, now: datetime, token: str | None) -> PendingSignin | None:
    if not token or len(token) > 128:
        return None
    row = repository.get_pending(db, service.token_hash(token))
    if row is None or row.expires_at <= now:
        return None
    return row


def second_factor(
    db: Session,
    *,
    keyring: Keyring,
    policy: SessionPolicy,
    now: datetime,
    pending: PendingSignin,
    code: str,
    client_host: str | None,
    meta: RequestMeta,
    existing: SignedInSession | None,
) -> Outcome:
    account = accounts_repository.get(db, pending.account_id)
    if account is None or account.status != accounts.ACTIVE:
        repository.delete_pending(db, pending.id)
        return Failed("second_factor.restart")
    subject = throttling.account_key(account.id)
    source = throttling.source_key(client_host)
    lock, failures = throttling.check(db, subject, source, now)
    if lock is not None:
        return Failed("signin.locked", lock.until)
    method = accounts.check_second_factor(db, keyring, account, code, meta, now)
    if method is None:
        pending.attempts += 1
        if pending.attempts >= PENDING_MAX_ATTEMPTS:
            repository.delete_pending(db, pending.id)
        failed = _failure(db, account, subject, source, meta, now, "second_factor.wrong")
        if pending.attempts >= PENDING_MAX_ATTEMPTS:
            return Failed("second_factor.restart", failed.locked_until)
        return failed
    repository.delete_pending(db, pending.id)
    # A step-up (or prompt=login): only the session it was started for may be raised.
    if pending.session_id is not None and (existing is None or existing.id != pending.session_id):
        return Failed("second_factor.restart")
    amr = [AMR_PASSWORD, AMR_OTP]
    return _complete(db, policy, now, account, ACR_MFA, amr, existing, meta, failures, method=method)


def _pending(
    db: Session, now: datetime, account_id: str, same: SignedInSession | None, next_path: str
) -> str:
    repository.delete_expired_pending(db, account_id, now)
    token = secrets.token_urlsafe(32)
    repository.add(
        db,
        PendingSignin(
            id=service.token_hash(token),
            account_id=account_id,
            session_id=same.id if same is not None else None,
            next_path=next_path,
            created_at=now,
            expires_at=now + PENDING_TTL,
            attempts=0,
        ),
    )
    return token


def _failure(
    db: Session,
    account: Account | None,
    subject: str,
    source: str | None,
    meta: RequestMeta,
    now: datetime,
    error: str,
) -> Failed:
    failures, lock = throttling.record_failure(db, subject, source, now)
    until = lock.until if lock is not None else None
    if account is not None:
        tag = "signin.failure" if error == "signin.wrong" else "signin.second_factor_failure"
        accounts.record_event(db, account.id, tag, meta, now, failures=failures)
        if failures == throttling.ACCOUNT_LOCK_FROM or (
            until is not None and failures > throttling.ACCOUNT_LOCK_FROM
        ):
            accounts.record_event(
                db, account.id, "account.locked", meta, now, until=until.isoformat() if until else None
            )
    return Failed(error, until)


def _complete(
    db: Session,
    policy: SessionPolicy,
    now: datetime,
    account: Account,
    acr: str,
    amr: list[str],
    existing: SignedInSession | None,
    meta: RequestMeta,
    failures: int,
    *,
    method: str | None = None,
) -> SignedIn:
    """``failures``: the account's failed attempts before this success (then forgotten)."""
    if failures:
        throttling.clear(db, throttling.account_key(account.id))
    details: dict[str, object] = {"acr": acr, "amr": amr}
    if failures:
        details["after_failures"] = failures
    if method:
        details["second_factor"] = method
    if existing is not None and existing.account_id == account.id:
        upgraded = service.reauthenticate(db, policy, now, existing.id, acr=acr, amr=amr)
        if upgraded is not None:
            rotated_token, same_session = upgraded
            accounts.record_event(db, account.id, "signin.success", meta, now, **details, same_session=True)
            return SignedIn(same_session, rotated_token)
    if existing is not None:
        service.end_session(db, existing.id, now)
    token, session = service.start_session(
        db,
        policy,
        now,
        account_id=account.id,
        acr=acr,
        amr=amr,
        source=meta.source,
        user_agent=meta.user_agent,
    )
    accounts.record_event(db, account.id, "signin.success", meta, now, **details)
    return SignedIn(session, token)
