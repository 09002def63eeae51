"""The guessing defence: slow an attacker down without letting them lock anyone out.

NIST SP 800-63B §5.2.2 asks that consecutive failures on one account be limited (at most
100) and lists ways to keep the legitimate owner from being locked out by it: growing
waits, and accepting attempts from places that signed in successfully before. OWASP's
authentication cheat sheet warns that hard lockouts are themselves a denial of service.
So no counter here ever locks for hours, and what a stranger can do to an account never
stops its owner:

* **account** (``acct:<id>``; ``ident:<keyed digest>`` for an identifier that matches no
  account, throttled alike so that the answers do not tell which exist): from the 5th
  consecutive failure, an attempt from a browser that never signed in to the account waits
  15 s, doubling per failure, at most 15 minutes. A **known browser** (a signed cookie set
  at a successful sign-in, :mod:`identity.throttling.known_device`) does not wait; it has
  a counter of its own (``dev:``) and stops being known after 10 failures. An account with
  a second factor never waits at the password: the second factor carries the defence (see
  identity/signin/flows.py for how its answer stays the same whether the password was
  right), so a correct password and a correct code always pass.
* **(network, identifier) pair** (``pair:``): the same waits, per IPv4 /24 or IPv6 /64 and
  identifier, for every browser: guessing one account from one network is slowed however
  the account is protected, and many identifiers from one network never add up to a wait
  for anyone else.
* **network** (``net:``): a looser ceiling against one network spraying many accounts.
  Beyond 50 failures it slows every attempt from that network (the answer is held back,
  50 ms more per failure, at most 2 s) but never refuses one.
* the same pair and network counters guard **client authentication** (``/token``,
  ``/introspect``, ``/revoke``, ``/bc-authorize``) and the **administrator credential**.

Counters are consecutive failures: a success clears the account's, pair's and device's,
and any counter is forgotten 24 hours after its last failure. The owner of an account is
told once per such window that it is being guessed at.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.orm import Session

from identity.throttling import repository
from identity.throttling.models import LoginThrottle
from kit.client_address import network_of

WINDOW = timedelta(hours=24)
FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=15)
MAX_WAIT = timedelta(minutes=15)
DEVICE_FAILURES = 10
NETWORK_FREE_FAILURES = 50
NETWORK_PAUSE_STEP_SECONDS = 0.05
MAX_PAUSE_SECONDS = 2.0
NOTIFY_FROM = FREE_FAILURES


def wait_after(failures: int) -> timedelta:
    """How long after the last of ``failures`` consecutive failures the next attempt waits."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 10)
    return min(FIRST_WAIT * (1 << doublings), MAX_WAIT)


def network_pause(failures: int) -> float:
    """Seconds an attempt from a network with ``failures`` recent failures is held back."""
    excess = failures - NETWORK_FREE_FAILURES
    return min(excess * NETWORK_PAUSE_STEP_SECONDS, MAX_PAUSE_SECONDS) if excess > 0 else 0.0


# -- keys ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _network_of_address(address: str) -> str | None:
    return network_of(address)


def _network(address: str | None) -> str | None:
    # Parsed on every client authentication; the same clients come back from the same
    # addresses, and parsing one (ipaddress) costs more than the counters' query builds.
    # Only what can be an IP address is remembered (an IPv6 one has at most 45 characters).
    if address is None or len(address) > 64:
        return network_of(address)
    return _network_of_address(address)


def _digest(*parts: str) -> str:
    # Counter keys need not be secret (they hold account ids and digests already): only short.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


def account_key(account_id: str) -> str:
    return f"acct:{account_id}"


def identifier_key(identifier_digest: str) -> str:
    return f"ident:{identifier_digest}"


def second_factor_key(account_id: str) -> str:
    return f"otp:{account_id}"


def device_key(device_id: str) -> str:
    return f"dev:{_digest(device_id)}"


def pair_key(network: str | None, subject: str) -> str:
    return f"pair:{_digest(network or '-', subject)}"


def network_key(network: str | None) -> str | None:
    return f"net:{network}" if network else None


@dataclass(frozen=True)
class Counters:
    """What one attempt is counted against. ``account`` waits only where the caller says so
    (see the module's docstring); ``device`` is set for a known browser."""

    account: str | None
    pair: str
    network: str | None
    device: str | None = None

    @classmethod
    def for_signin(cls, address: str | None, subject: str, device_id: str | None = None) -> Counters:
        network = _network(address)
        return cls(
            account=subject,
            pair=pair_key(network, subject),
            network=network_key(network),
            device=device_key(device_id) if device_id else None,
        )

    @classmethod
    def for_credential(cls, address: str | None, credential: str) -> Counters:
        """A client's (``client:<client_id>``) or the administrator's credential: per pair
        and network only, so that no stranger can make the owner of a credential wait."""
        network = _network(address)
        return cls(account=None, pair=pair_key(network, credential), network=network_key(network))

    @property
    def keys(self) -> list[str]:
        return [key for key in (self.account, self.pair, self.network, self.device) if key]


@dataclass(frozen=True)
class Assessment:
    """Before an attempt: refuse it until ``wait_until`` (if set), else hold the answer back
    ``pause_seconds``. ``account_failures``: the account's consecutive failures so far;
    ``counted``: the keys that have a live counter (what a success has to clear)."""

    wait_until: datetime | None
    pause_seconds: float
    account_failures: int
    known_device: bool
    counted: tuple[str, ...] = ()


def _live(row: LoginThrottle | repository.CounterReading | None, now: datetime) -> int:
    if row is None or row.last_failure_at is None or now - row.last_failure_at > WINDOW:
        return 0
    return row.failures


def _waits_until(row: LoginThrottle | repository.CounterReading | None, now: datetime) -> datetime | None:
    failures = _live(row, now)
    if row is None or row.last_failure_at is None or not failures:
        return None
    until = row.last_failure_at + wait_after(failures)
    return until if until > now else None


def assess(db: Session, counters: Counters, now: datetime, *, account_waits: bool = True) -> Assessment:
    """Read every counter of the attempt (one query) and say whether it may go ahead."""
    rows = repository.get_many(db, counters.keys)
    counted = tuple(key for key, row in rows.items() if _live(row, now))
    account = rows.get(counters.account) if counters.account else None
    account_failures = _live(account, now)
    device = rows.get(counters.device) if counters.device else None
    known = counters.device is not None and _live(device, now) < DEVICE_FAILURES
    if known:
        return Assessment(None, 0.0, account_failures, known_device=True, counted=counted)
    waiting = [_waits_until(rows.get(counters.pair), now)]
    if account_waits:
        waiting.append(_waits_until(account, now))
    until = max((moment for moment in waiting if moment is not None), default=None)
    network = rows.get(counters.network) if counters.network else None
    pause = network_pause(_live(network, now))
    return Assessment(until, pause, account_failures, known_device=False, counted=counted)


@dataclass(frozen=True)
class Failure:
    account_failures: int
    wait_until: datetime | None  # when the next attempt from this browser and network may go
    notify_owner: bool  # the first time in this window that the account looks guessed at


def record_failure(db: Session, counters: Counters, now: datetime) -> Failure:
    """Count one failed attempt against every counter it concerns."""
    account_failures, notify, until = 0, False, None
    for key in counters.keys:
        row = repository.get_for_update(db, key)
        if _live(row, now) == 0:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        wait = wait_after(row.failures)
        row.locked_until = now + wait if wait else None
        if key in (counters.account, counters.pair) and row.locked_until is not None:
            until = max(until or row.locked_until, row.locked_until)
        if key == counters.account:
            account_failures = row.failures
            stale = row.notified_at is None or now - row.notified_at > WINDOW
            if row.failures >= NOTIFY_FROM and stale:
                row.notified_at, notify = now, True
    return Failure(account_failures, until, notify)


def clear(db: Session, *keys: str | None) -> None:
    """Forget the counters of a success (the network's is never cleared by one success)."""
    repository.clear(db, [key for key in keys if key])


# -- enrolment probing: a plain growing lock on one key (identity/accounts/routes.py) ---------

PROBE_LOCK_FROM = 5
PROBE_MAX_LOCK = timedelta(hours=4)


@dataclass(frozen=True)
class Lock:
    until: datetime


def source_key(address: str | None) -> str | None:
    network = _network(address)
    return f"src:{network}" if network else None


def probe_lock_for(failures: int) -> timedelta:
    if failures < 3:
        return timedelta(0)
    if failures < PROBE_LOCK_FROM:
        return timedelta(seconds=10 if failures == 3 else 30)
    doublings = min(failures - PROBE_LOCK_FROM, 8)
    return min(timedelta(minutes=15) * (1 << doublings), PROBE_MAX_LOCK)


def check(db: Session, key: str, now: datetime) -> Lock | None:
    row = repository.get_many(db, [key]).get(key)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return Lock(row.locked_until)
    return None


def record_probe(db: Session, key: str, now: datetime) -> Lock | None:
    row = repository.get_for_update(db, key)
    if _live(row, now) == 0:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    duration = probe_lock_for(row.failures)
    row.locked_until = now + duration if duration else None
    return Lock(row.locked_until) if row.locked_until else None
