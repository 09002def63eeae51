"""Guessing defence for sign-in: growing delays, then temporary lockout.

Two counters are kept for every failed attempt (password or second factor):

* per account (``acct:<id>``) or, when the identifier typed matches no account, per keyed
  hash of that identifier (``ident:<hmac>``). Unknown identifiers are throttled exactly like
  real accounts, so lockout behaviour cannot be used to find out whether an account exists;
* per source (``src:<network>``: the IPv4 /24 or IPv6 /64), with a higher threshold, against
  one machine trying many accounts.

Delays are short lockouts: after the 3rd failure 10 s, after the 4th 30 s; from the 5th the
account is locked for 15 minutes, doubling with every further failure up to 4 hours. The page
tells the person when to retry. Counters reset after a successful sign-in, or 24 hours after
the last failure. Staff and residents share the same policy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.throttling import repository

FORGET_AFTER = timedelta(hours=24)
ACCOUNT_LOCK_FROM = 5
SOURCE_LOCK_FROM = 30
MAX_LOCK = timedelta(hours=4)


def account_key(account_id: str) -> str:
    return f"acct:{account_id}"


def identifier_key(identifier_digest: str) -> str:
    return f"ident:{identifier_digest}"


def source_key(address: str | None) -> str | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"src:{address[:60]}"  # not an IP (a unix socket, a test client): as given
    prefix = 24 if ip.version == 4 else 64
    return f"src:{ipaddress.ip_network(f'{ip}/{prefix}', strict=False)}"


def account_lock_for(failures: int) -> timedelta:
    if failures < 3:
        return timedelta(0)
    if failures < ACCOUNT_LOCK_FROM:
        return timedelta(seconds=10 if failures == 3 else 30)
    doublings = min(failures - ACCOUNT_LOCK_FROM, 8)
    return min(timedelta(minutes=15) * (1 << doublings), MAX_LOCK)


def source_lock_for(failures: int) -> timedelta:
    if failures < SOURCE_LOCK_FROM:
        return timedelta(0)
    doublings = min((failures - SOURCE_LOCK_FROM) // 10, 8)
    return min(timedelta(minutes=15) * (1 << doublings), MAX_LOCK)


@dataclass(frozen=True)
class Lock:
    until: datetime


def check(db: Session, subject_key: str, source: str | None, now: datetime) -> tuple[Lock | None, int]:
    """The latest lock in force on the subject or the source, if any, and the subject's
    current failure count (one query)."""
    rows = repository.get_many(db, [key for key in (subject_key, source) if key])
    latest = None
    for row in rows.values():
        if row.locked_until and row.locked_until > now and (latest is None or row.locked_until > latest):
            latest = row.locked_until
    subject = rows.get(subject_key)
    return (Lock(latest) if latest else None), (subject.failures if subject else 0)


def record_failure(
    db: Session, subject_key: str, source: str | None, now: datetime
) -> tuple[int, Lock | None]:
    """Count one failure; returns the subject's failure count and the lock it now has."""
    failures, lock = _bump(db, subject_key, now, account_lock_for)
    if source:
        _bump(db, source, now, source_lock_for)
    return failures, lock


def _bump(
    db: Session, key: str, now: datetime, policy: Callable[[int], timedelta]
) -> tuple[int, Lock | None]:
    row = repository.get_for_update(db, key)
    if row.last_failure_at is not None and now - row.last_failure_at > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    duration = policy(row.failures)
    row.locked_until = now + duration if duration else None
    return row.failures, (Lock(row.locked_until) if row.locked_until else None)


def clear(db: Session, subject_key: str) -> None:
    repository.clear(db, subject_key)
