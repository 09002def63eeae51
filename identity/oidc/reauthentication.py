"""When an authorization request demands a new sign-in (``prompt=login``, ``max_age``; OIDC
Core §3.1.2.1), what lets the browser come back afterwards without being sent to sign in a
second time.

Defends against skipping the sign-in (issue 12 item 2): nothing in a request can say "the
resident has just signed in". The demand is stored here, under the hash of a random handle
that travels in the resume URL (``egate_resume``); it holds when it was made and a digest of
the exact request it was made for. It is satisfied only by a session whose sign-in came after
the demand, only for that same request, only until it expires, and only once: the code it
leads to spends it. An unknown, expired, spent or foreign handle counts as no handle at all,
so the request demands a sign-in again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.tokens import repository as tokens_repository
from identity.tokens.models import ReauthenticationDemand

RESUME_PARAM = "egate_resume"
# Long enough to sign in with a second factor or the phone app; short enough that a resume
# link found later in a browser's history is worthless.
DEMAND_TTL = timedelta(minutes=15)
MAX_HANDLE_LENGTH = 128


def without_handle(data: Mapping[str, str]) -> dict[str, str]:
    """The authorization request as the client sent it (our resume handle removed)."""
    return {key: value for key, value in data.items() if key != RESUME_PARAM}


def request_digest(data: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(without_handle(data).items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _handle_hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def demand(db: Session, data: Mapping[str, str], now: datetime) -> str:
    """Records that this request needs a sign-in from now on; returns the resume handle."""
    handle = secrets.token_urlsafe(32)
    tokens_repository.add_demand(
        db,
        ReauthenticationDemand(
            handle_hash=_handle_hash(handle),
            request_digest=request_digest(data),
            demanded_at=now,
            expires_at=now + DEMAND_TTL,
            used_at=None,
        ),
        now,
    )
    return handle


def pending_demand(db: Session, data: Mapping[str, str], now: datetime) -> ReauthenticationDemand | None:
    """The live, unspent demand this request's handle names, made for this very request."""
    handle = data.get(RESUME_PARAM)
    if not handle or len(handle) > MAX_HANDLE_LENGTH:
        return None
    row = tokens_repository.demand(db, _handle_hash(handle))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    if not secrets.compare_digest(row.request_digest, request_digest(data)):
        return None
    return row


def spend(db: Session, row: ReauthenticationDemand, now: datetime) -> bool:
    """Uses the demand up; False when a concurrent request already did."""
    return tokens_repository.spend_demand(db, row.handle_hash, now)
