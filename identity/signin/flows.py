"""Sign-in as a sequence of steps: password, then (when the account has one) the second
factor; or a step-up of a live session to the second-factor level.

Policy:

* an account with confirmed TOTP is always asked for its second factor at password sign-in
  (the session reaches ``ACR_MFA``, amr ``pwd otp``); an account without it reaches
  ``ACR_BASIC`` (amr ``pwd``);
* a live session below ``ACR_MFA`` whose client asks for ``ACR_MFA`` is stepped up: the
  person enters only the second factor, the session keeps its id and gets the new level,
  ``auth_time`` and a new cookie (the old one stops working);
* a level the account cannot reach by its second factor (``ACR_DEVICE``, or ``ACR_MFA``
  without TOTP) is reached through the app when a device is bound (a new session at
  ``ACR_DEVICE``); with neither there is no way from this session (:func:`step_up_route`
  says so, and the provider explains instead of sending the browser round again);
* an unknown identifier and a wrong password cost the same (one argon2id verification), give
  the same message and are throttled alike (identity/throttling/service.py);
* guessing never locks the owner out: a browser that signed in to the account before (the
  known-browser cookie) is not held back by the account's counter, nor is an account with a
  second factor. Such an account, once it has 5 consecutive failures, is asked for its code
  after a password from an unknown browser *whether or not the password was right* (a decoy
  pending sign-in that no code completes), so that guessing its password teaches nothing and
  a correct password with a correct code always passes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from identity import metrics
from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.service import RequestMeta
from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA, ACR_ORDER, AMR_OTP, AMR_PASSWORD, acr_satisfies
from identity.backchannel.service import SIGNED_OUT, announce_logout
from identity.devices import repository as devices_repository
from identity.messaging import notices, outbox
from identity.security.hashing import PooledHasher
from identity.security.keyring import Keyring
from identity.sessions import repository, service
from identity.sessions.models import PendingSignin
from identity.sessions.service import SessionPolicy, SignedInSession
from identity.throttling import service as throttling
from identity.throttling.known_device import KnownDevices
from kit.db import begin_read_only

PENDING_COOKIE = "egate_pending"
SECOND_FACTOR: Literal["second_factor"] = "second_factor"
APP: Literal["app"] = "app"
StepUpRoute = Literal["second_factor", "app"]
PENDING_TTL = timedelta(minutes=5)
PENDING_MAX_ATTEMPTS = 5
# A pending sign-in whose password was wrong (a decoy, see above) is marked by starting its
# attempts here: no code completes it, and it restarts after as many codes as a real one.
DECOY_ATTEMPTS = 1000


@dataclass(frozen=True)
class Failed:
    error: str  # message code, e.g. "signin.wrong", "signin.locked"
    locked_until: datetime | None = None
    notice_queued: bool = False  # the owner was told of the guessing: deliver the outbox


@dataclass(frozen=True)
class NeedsSecondFactor:
    pending_token: str
    notice_queued: bool = False


@dataclass(frozen=True)
class SignedIn:
    session: SignedInSession
    new_cookie_token: str | None  # set when a session began or was re-authenticated
    known_browser_cookie: str | None = None  # the browser is now known to the account


Outcome = Failed | NeedsSecondFactor | SignedIn


def password_signin(
    db: Session,
    *,
    keyring: Keyring,
    hasher: PooledHasher,
    policy: SessionPolicy,
    known_devices: KnownDevices,
    now: datetime,
    identifier: str,
    password: str,
    client_host: str | None,
    known_browser_cookie: str | None,
    meta: RequestMeta,
    existing: SignedInSession | None,
    next_path: str,
) -> Outcome:
    # Everything before the hash only reads: on SQLite without the writer gate, so that
    # sign-ins do not queue behind each other's (and every other) writes. A browser already
    # signed in had its session read (and maybe touched) in a transaction of its own kind.
    if not db.in_transaction():
        begin_read_only(db)
    # A lean read of the credential (no entity): the hot path (bench/signin.py).
    account = accounts.find_credential(db, keyring, identifier or "")
    subject = (
        throttling.account_key(account.id)
        if account is not None
        else throttling.identifier_key(accounts.identifier_throttle_digest(keyring, identifier or ""))
    )
    device = known_devices.recognise(known_browser_cookie, account.id, now) if account is not None else None
    counters = throttling.Counters.for_signin(client_host, subject, device.device_id if device else None)
    second_factor = account is not None and account.has_totp
    verdict = throttling.assess(db, counters, now, account_waits=not second_factor)
    if verdict.wait_until is not None:
        metrics.count_signin_failure("password", "locked", now_waits=False)
        return Failed("signin.locked", verdict.wait_until)
    decoy = (
        second_factor and not verdict.known_device and verdict.account_failures >= throttling.FREE_FAILURES
    )
    account_id = account.id if account is not None else None
    stored_hash = account.password_hash if account is not None else None
    # Nothing is written yet: end the read transaction before the ~20 ms hash, so that no
    # database connection (nor, for a signed-in browser on SQLite, the write lock) is held
    # while the CPU works.
    db.rollback()
    if verdict.pause_seconds:
        time.sleep(verdict.pause_seconds)  # a network over its ceiling: slowed, never refused
    if stored_hash is None:
        hasher.dummy_verify(password or "")
        ok, new_hash = False, None
    else:
        ok, new_hash = hasher.verify_and_maybe_rehash(stored_hash, password or "")
    # Read again (the same query whether or not the account exists: equal work either way).
    account = accounts_repository.credential(db, "id", account_id or "-")
    if account is not None and account.password_hash != stored_hash:
        ok = False  # the password changed meanwhile: the one typed was checked against the old
    if not ok:
        failed = _failure(db, keyring, account.id if account else None, counters, meta, now, "signin.wrong")
        if decoy and account is not None:
            token = _pending(db, now, account.id, None, next_path, decoy=True)
            return NeedsSecondFactor(token, failed.notice_queued)
        return failed
    assert account is not None and stored_hash is not None
    if new_hash is not None:  # parameters changed since the hash was made
        accounts_repository.replace_password_hash(db, account.id, stored_hash, new_hash)
    if account.status != accounts.ACTIVE:
        return Failed("signin.suspended")
    if account.has_totp:
        same = existing if existing is not None and existing.account_id == account.id else None
        return NeedsSecondFactor(_pending(db, now, account.id, same, next_path))
    cookie = known_devices.remember(known_browser_cookie, account.id, now, device)
    return _complete(
        db,
        policy,
        now,
        account.id,
        ACR_BASIC,
        [AMR_PASSWORD],
        existing,
        meta,
        verdict.account_failures,
        forget=[key for key in verdict.counted if key != counters.network],
        known_browser_cookie=cookie,
    )


def begin_step_up(db: Session, now: datetime, session: SignedInSession, next_path: str) -> str:
    return _pending(db, now, session.account_id, session, next_path)


def step_up_route(db: Session, session: SignedInSession, requested_acr: str | None) -> StepUpRoute | None:
    """How this session can reach ``requested_acr``: its second factor (a step-up of the same
    session, for ``ACR_MFA``), or the app on a bound device (``ACR_DEVICE`` meets every
    level); None when it already has it, the level is unknown, or there is no way."""
    if requested_acr not in ACR_ORDER or acr_satisfies(session.acr, requested_acr):
        return None
    account = accounts_repository.get(db, session.account_id)
    if account is None or account.status != accounts.ACTIVE:
        return None
    if requested_acr == ACR_MFA and accounts.has_totp(account):
        return SECOND_FACTOR
    if acr_satisfies(ACR_DEVICE, requested_acr) and devices_repository.bound_devices(db, account.id):
        return APP
    return None


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
    known_devices: KnownDevices,
    now: datetime,
    pending: PendingSignin,
    code: str,
    client_host: str | None,
    known_browser_cookie: str | None,
    meta: RequestMeta,
    existing: SignedInSession | None,
) -> Outcome:
    account = accounts_repository.get(db, pending.account_id)
    if account is None or account.status != accounts.ACTIVE:
        repository.delete_pending(db, pending.id)
        return Failed("second_factor.restart")
    decoy = pending.attempts >= DECOY_ATTEMPTS
    device = known_devices.recognise(known_browser_cookie, account.id, now)
    # Codes are counted per account apart from passwords: only someone who knew the
    # password reaches a real code step, so only they can make the owner's code step wait.
    counters = throttling.Counters.for_signin(
        client_host, throttling.second_factor_key(account.id), device.device_id if device else None
    )
    verdict = throttling.assess(db, counters, now)
    if verdict.wait_until is not None:
        metrics.count_signin_failure("second_factor", "locked", now_waits=False)
        return Failed("signin.locked", verdict.wait_until)
    # A decoy's code is never checked: checking would spend the owner's current TOTP step.
    method = None if decoy else accounts.check_second_factor(db, keyring, account, code, meta, now)
    if method is None:
        pending.attempts += 1
        restart = pending.attempts % DECOY_ATTEMPTS >= PENDING_MAX_ATTEMPTS
        if restart:
            repository.delete_pending(db, pending.id)
        if decoy:  # the wrong password was counted already; the account's code counter is not touched
            counters = throttling.Counters(None, counters.pair, counters.network)
        failed = _failure(
            db, keyring, None if decoy else account.id, counters, meta, now, "second_factor.wrong"
        )
        if restart:
            return Failed("second_factor.restart", failed.locked_until, failed.notice_queued)
        return failed
    repository.delete_pending(db, pending.id)
    # A step-up (or prompt=login): only the session it was started for may be raised.
    if pending.session_id is not None and (existing is None or existing.id != pending.session_id):
        return Failed("second_factor.restart")
    amr = [AMR_PASSWORD, AMR_OTP]
    password_pair = throttling.Counters.for_signin(client_host, throttling.account_key(account.id))
    forget = [*counters.keys, *password_pair.keys]
    cookie = known_devices.remember(known_browser_cookie, account.id, now, device)
    return _complete(
        db,
        policy,
        now,
        account.id,
        ACR_MFA,
        amr,
        existing,
        meta,
        verdict.account_failures,
        method=method,
        forget=[key for key in forget if not key.startswith("net:")],
        known_browser_cookie=cookie,
    )


def _pending(
    db: Session,
    now: datetime,
    account_id: str,
    same: SignedInSession | None,
    next_path: str,
    *,
    decoy: bool = False,
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
            attempts=DECOY_ATTEMPTS if decoy else 0,
        ),
    )
    return token


def _failure(
    db: Session,
    keyring: Keyring,
    account_id: str | None,
    counters: throttling.Counters,
    meta: RequestMeta,
    now: datetime,
    error: str,
) -> Failed:
    failure = throttling.record_failure(db, counters, now)
    step = "password" if error == "signin.wrong" else "second_factor"
    metrics.count_signin_failure(step, "wrong", now_waits=failure.wait_until is not None)
    notice_queued = False
    if account_id is not None:
        tag = "signin.failure" if error == "signin.wrong" else "signin.second_factor_failure"
        accounts.record_event(db, account_id, tag, meta, now, failures=failure.account_failures)
        if failure.notify_owner:
            accounts.record_event(
                db, account_id, "account.guessed_at", meta, now, failures=failure.account_failures
            )
            account = accounts_repository.get(db, account_id)
            notice_queued = account is not None and _tell_owner(db, keyring, account, now)
    return Failed(error, failure.wait_until, notice_queued)


def _tell_owner(db: Session, keyring: Keyring, account: Account, now: datetime) -> bool:
    """Queue the guessing notice to the account's verified email, else its verified phone."""
    profile = accounts.load_profile(keyring, account)
    if account.email_verified_at and profile.email:
        channel, recipient = outbox.EMAIL, profile.email
    elif account.phone_verified_at and profile.phone:
        channel, recipient = outbox.SMS, profile.phone
    else:
        return False
    notices.guessing_notice(db, keyring, channel=channel, recipient=recipient, now=now)
    return True


def _complete(
    db: Session,
    policy: SessionPolicy,
    now: datetime,
    account_id: str,
    acr: str,
    amr: list[str],
    existing: SignedInSession | None,
    meta: RequestMeta,
    failures: int,
    *,
    method: str | None = None,
    forget: list[str],
    known_browser_cookie: str,
) -> SignedIn:
    """``failures``: the account's failed attempts before this success; ``forget``: the
    counters this success clears (never the network's: one success does not vouch for it)."""
    throttling.clear(db, *forget)
    details: dict[str, object] = {"acr": acr, "amr": amr}
    if failures:
        details["after_failures"] = failures
    if method:
        details["second_factor"] = method
    if existing is not None and existing.account_id == account_id:
        upgraded = service.reauthenticate(db, policy, now, existing.id, acr=acr, amr=amr)
        if upgraded is not None:
            rotated_token, same_session = upgraded
            accounts.record_event(db, account_id, "signin.success", meta, now, **details, same_session=True)
            return SignedIn(same_session, rotated_token, known_browser_cookie)
    if existing is not None:
        service.end_session(db, existing.id, now)
        announce_logout(db, existing.account_id, [existing.id], now, SIGNED_OUT)
    token, session = service.start_session(
        db,
        policy,
        now,
        account_id=account_id,
        acr=acr,
        amr=amr,
        source=meta.source,
        user_agent=meta.user_agent,
    )
    accounts.write_event(db, account_id, "signin.success", meta, now, **details)
    return SignedIn(session, token, known_browser_cookie)


@dataclass(frozen=True)
class SignedInAccount:
    """How the sign-in page names the account a browser is signed in to, when the resident
    chooses an account (``prompt=select_account``): the name, and the masked identity card
    number of a resident or the user name of a staff member."""

    name: str
    identifier: str | None


def signed_in_account(db: Session, keyring: Keyring, session: SignedInSession) -> SignedInAccount | None:
    account = accounts_repository.get(db, session.account_id)
    if account is None:
        return None
    name = accounts.load_profile(keyring, account).name
    identifier = account.username if account.kind == "staff" else accounts.masked_hkid(keyring, account)
    return SignedInAccount(name=name, identifier=identifier)
