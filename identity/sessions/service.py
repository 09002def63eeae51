"""Server-side sign-in sessions: the contract the OpenID Provider relies on.

The cookie carries a random 256-bit token; the database keeps only its SHA-256, so a copy of
the sessions table cannot be replayed as cookies. A session ends on sign-out, "sign out
everywhere", a password reset, after ``session_idle_seconds`` without use, or
``session_absolute_seconds`` after it began, whichever comes first.

Every re-authentication in a session (``prompt=login``, ``max_age``, a step-up) gives it a new
cookie token and makes the old one worthless (OWASP Session Management: renew the session
identifier on any privilege change), so a cookie planted in or stolen from the browser before
the stronger sign-in does not inherit it (session fixation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from identity.sessions import repository
from identity.sessions.models import BrowserSession
from kit.settings import Settings

SESSION_COOKIE = "egate_session"
LAST_SEEN_GRANULARITY = timedelta(seconds=60)  # fewer writes: last_seen is refreshed per minute


@dataclass(frozen=True)
class SignedInSession:
    id: str
    account_id: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions last and how their cookie is set; built once from the settings."""

    idle: timedelta
    lifetime: timedelta
    secure_cookie: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(seconds=settings.session_idle_seconds),
            lifetime=timedelta(seconds=settings.session_absolute_seconds),
            secure_cookie=settings.issuer.startswith("https://"),
        )


def session_reference(session_id: str | None) -> str | None:
    """The ``sid`` claim of ID tokens and logout tokens: derived from, but not revealing, the
    session's id."""
    if session_id is None:
        return None
    return hashlib.sha256(b"sid\x00" + session_id.encode()).hexdigest()[:32]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _view(row: BrowserSession) -> SignedInSession:
    return SignedInSession(row.id, row.account_id, row.auth_time, row.acr, tuple(row.amr))


def is_live(row: BrowserSession, policy: SessionPolicy, now: datetime) -> bool:
    return row.ended_at is None and now < row.expires_at and now - row.last_seen_at <= policy.idle


def current_session(
    db: Session, request: Request, policy: SessionPolicy, now: datetime
) -> SignedInSession | None:
    """The browser's live session, or None when absent, ended or timed out (idle/absolute).

    Refreshes ``last_seen_at`` (at most once a minute), which extends the idle timeout.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    row = repository.by_cookie_hash(db, token_hash(token))
    if row is None or not is_live(row, policy, now):
        return None
    if now - row.last_seen_at >= LAST_SEEN_GRANULARITY:
        row.last_seen_at = now
    return _view(row)


def start_session(
    db: Session,
    policy: SessionPolicy,
    now: datetime,
    *,
    account_id: str,
    acr: str,
    amr: list[str],
    source: str | None,
    user_agent: str | None,
) -> tuple[str, SignedInSession]:
    """A new session; returns the cookie token (set it with :func:`set_session_cookie`)."""
    token = secrets.token_urlsafe(32)
    session_id = secrets.token_hex(32)
    amr = list(amr)
    repository.insert_session(
        db,
        {
            "id": session_id,
            "cookie_hash": token_hash(token),
            "account_id": account_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + policy.lifetime,
            "auth_time": now,
            "acr": acr,
            "amr": amr,
            "source": source,
            "user_agent": user_agent,
            "ended_at": None,
            "device_id": None,
        },
    )
    return token, SignedInSession(session_id, account_id, now, acr, tuple(amr))


def reauthenticate(
    db: Session, policy: SessionPolicy, now: datetime, session_id: str, *, acr: str, amr: list[str]
) -> tuple[str, SignedInSession] | None:
    """The person authenticated again in this session (``prompt=login`` or a step-up): keep the
    session (its id, so ``sid`` and what is bound to it), record the new authentication time
    and level, and rotate its cookie: returns the new cookie token (set it with
    :func:`set_session_cookie`); the old one no longer finds the session."""
    row = repository.get(db, session_id)
    if row is None or not is_live(row, policy, now):
        return None
    token = secrets.token_urlsafe(32)
    row.cookie_hash = token_hash(token)
    row.auth_time = now
    row.last_seen_at = now
    row.acr = acr
    row.amr = list(amr)
    return token, _view(row)


def end_session(db: Session, session_id: str, now: datetime) -> bool:
    return repository.end(db, session_id, now)


def end_all_sessions(db: Session, account_id: str, now: datetime, *, keep: str | None = None) -> int:
    """Sign out everywhere (but ``keep``, when given); returns how many sessions ended."""
    return repository.end_all(db, account_id, now, keep)


def revoke_tokens(db: Session, account_id: str, now: datetime) -> int:
    return repository.revoke_tokens_of_account(db, account_id, now)


def live_sessions(db: Session, policy: SessionPolicy, now: datetime, account_id: str) -> list[BrowserSession]:
    return [row for row in repository.live_for_account(db, account_id, now) if is_live(row, policy, now)]


def set_session_cookie(response: Response, policy: SessionPolicy, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(policy.lifetime.total_seconds()),
        path="/",
        httponly=True,
        secure=policy.secure_cookie,
        samesite="lax",
    )


def clear_session_cookie(response: Response, policy: SessionPolicy) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        secure=policy.secure_cookie,
        samesite="lax",
    )
