"""The forms hub's relying-party state: its client credentials, authorization requests in
flight, browser sessions, and the tokens kept to re-check prefilled answers.

Sign-in and prefill use the authorization code flow with PKCE S256, ``state`` and
``nonce`` (OIDC Core §3.1). Every function here works in the caller's session and never
calls the provider: the routes call the provider between two short transactions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.oidc_client import repository
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.models import AuthRequest, HubSession
from kit.i18n import N_

SESSION_COOKIE = "forms_session"
BINDING_COOKIE = "forms_auth"
DEFAULT_CLIENT_ID = "forms-hub"
OFFICER_ROLE = "officer"
# Claims the hub reads to recognise an officer: staff roles and their department. The
# provider releases them for staff accounts to first-party clients (see the README).
ROLES_CLAIM = "roles"
DEPARTMENT_CLAIM = "department"
PURPOSE_SIGN_IN = "sign_in"
PURPOSE_PREFILL = "prefill"


class NotConfigured(RuntimeError):
    """The hub has no client registration with the provider yet (`egate forms client set`)."""


class AuthFlowError(ValueError):
    pass


# -- the hub's own client ------------------------------------------------------------------

_credentials_cache: dict[str, tuple[str, str]] = {}
_cache_lock = threading.Lock()


def set_client_credentials(
    db: Session, master_key: bytes, client_id: str, secret: str, now: datetime
) -> None:
    """The operator's registration of the hub with the provider (`egate forms client`)."""
    sealed = RelyingPartyKeys(master_key).client_secret.seal(secret, client_id)
    repository.save_client_registration(db, client_id, sealed, now)
    global _client_id_cache
    with _cache_lock:
        _credentials_cache.clear()
        _client_id_cache = None


def client_credentials(db: Session, keys: RelyingPartyKeys) -> tuple[str, str]:
    """Raises NotConfigured."""
    row = repository.client_registration(db)
    if row is None:
        raise NotConfigured("the forms hub has no client registration with the provider")
    cache_key = f"{row.client_id}:{row.secret_sealed}"
    with _cache_lock:
        if cache_key in _credentials_cache:
            return _credentials_cache[cache_key]
    secret: str = keys.client_secret.open(row.secret_sealed, row.client_id)
    with _cache_lock:
        _credentials_cache[cache_key] = (row.client_id, secret)
    return row.client_id, secret


_client_id_cache: tuple[float, str] | None = None
CLIENT_ID_CACHE_SECONDS = 60.0


def own_client_id(db: Session) -> str:
    """The hub's client id at the provider (what ledger entries name as the recipient),
    cached for a minute: it changes only when an operator re-registers the hub."""
    global _client_id_cache
    cached = _client_id_cache
    if cached and time.monotonic() - cached[0] < CLIENT_ID_CACHE_SECONDS:
        return cached[1]
    row = repository.client_registration(db)
    client_id = row.client_id if row else DEFAULT_CLIENT_ID
    _client_id_cache = (time.monotonic(), client_id)
    return client_id


# -- authorization requests ----------------------------------------------------------------


@dataclass(frozen=True)
class PendingAuth:
    purpose: str
    nonce: str
    code_verifier: str
    return_to: str
    sub: str | None
    submission_id: str | None
    claims: tuple[str, ...]


def safe_return_to(value: str | None) -> str:
    """Only paths inside the forms hub: never an open redirect."""
    if (
        not value
        or not value.startswith("/forms/")
        or value.startswith("//")
        or "\\" in value
        or len(value) > 500
    ):
        return "/forms/my"
    return value


def begin(
    db: Session,
    keys: RelyingPartyKeys,
    *,
    client_id: str,
    redirect_uri: str,
    ttl: timedelta,
    binding: str,
    purpose: str,
    return_to: str,
    now: datetime,
    sub: str | None = None,
    submission_id: str | None = None,
    claims: Mapping[str, Any] | None = None,
    ui_locales: str | None = None,
    prompt: str | None = None,
) -> dict[str, str]:
    """Store a new authorization request; returns the authorization request parameters.
    ``claims``: the ``claims`` parameter (OIDC Core §5.5); the request keeps the names it
    asks for at userinfo."""
    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    repository.add_auth_request(
        db,
        AuthRequest(
            state_hash=keys.state_digest(state),
            binding_hash=keys.binding_digest(binding),
            nonce=nonce,
            code_verifier=verifier,
            purpose=purpose,
            return_to=safe_return_to(return_to),
            sub=sub,
            submission_id=submission_id,
            claims=list((claims or {}).get("userinfo") or {}),
            created_at=now,
            expires_at=now + ttl,
        ),
        now,
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if claims:
        params["claims"] = json.dumps(claims, separators=(",", ":"))
    if ui_locales:
        params["ui_locales"] = ui_locales
    if prompt:
        params["prompt"] = prompt
    return params


def consume(
    db: Session, keys: RelyingPartyKeys, state: str, binding: str | None, now: datetime
) -> PendingAuth:
    """Take (and delete) the request ``state`` names; it must have been started by this
    browser and not be older than the configured lifetime.

    Raises:
        AuthFlowError: unknown, used, expired, or started in another browser.
    """
    if not state or len(state) > 200 or not binding or len(binding) > 200:
        raise AuthFlowError(N_("This sign-in link is not valid in this browser; start again."))
    row = repository.take_auth_request(db, keys.state_digest(state))
    if row is None:
        raise AuthFlowError(N_("This sign-in was already completed or is unknown; start again."))
    if not hmac.compare_digest(row.binding_hash, keys.binding_digest(binding)):
        raise AuthFlowError(N_("This sign-in was started in another browser; start again."))
    if row.expires_at <= now:
        raise AuthFlowError(N_("This sign-in took too long; start again."))
    return PendingAuth(
        purpose=row.purpose,
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        return_to=row.return_to,
        sub=row.sub,
        submission_id=row.submission_id,
        claims=tuple(row.claims or ()),
    )


# -- sessions ------------------------------------------------------------------------------


def start_session(
    db: Session, keys: RelyingPartyKeys, id_token_claims: dict[str, Any], now: datetime, ttl: timedelta
) -> str:
    """A hub session for the person the ID token names; returns the signed cookie value.

    Officer: the ID token (or userinfo) carries ``roles`` containing ``officer`` and a
    ``department``. Anyone else is a resident.
    """
    roles = id_token_claims.get(ROLES_CLAIM)
    roles = [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
    department = id_token_claims.get(DEPARTMENT_CLAIM)
    officer_of = department.upper() if isinstance(department, str) and 0 < len(department) <= 16 else None
    officer = OFFICER_ROLE in roles and officer_of is not None
    token = secrets.token_urlsafe(32)
    repository.add_session(
        db,
        HubSession(
            id_hash=keys.session_digest(token),
            sub=id_token_claims["sub"],
            kind="officer" if officer else "resident",
            department=officer_of if officer else None,
            roles=roles,
            acr=id_token_claims.get("acr") if isinstance(id_token_claims.get("acr"), str) else None,
            created_at=now,
            expires_at=now + ttl,
            sid=_provider_sid(id_token_claims),
        ),
        now,
    )
    return f"{token}.{keys.cookie_signature(token)}"


def _provider_sid(id_token_claims: dict[str, Any]) -> str | None:
    """The provider's session the ID token came from (its ``sid``), when it names one."""
    sid = id_token_claims.get("sid")
    return sid if isinstance(sid, str) and 0 < len(sid) <= 64 else None


def session_from_cookie(
    db: Session, keys: RelyingPartyKeys, cookie: str | None, now: datetime
) -> HubSession | None:
    """The live session a signed cookie names; a forged or tampered cookie costs no query."""
    if not cookie or len(cookie) > 200 or "." not in cookie:
        return None
    token, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, keys.cookie_signature(token)):
        return None
    row = repository.get_session(db, keys.session_digest(token))
    if row is None or row.expires_at <= now:
        return None
    return row


def end_session(db: Session, keys: RelyingPartyKeys, cookie: str | None) -> None:
    if cookie and "." in cookie:
        token = cookie.rpartition(".")[0]
        repository.delete_session(db, keys.session_digest(token))


def create_session_for_tests(
    db: Session, keys: RelyingPartyKeys, sub: str, now: datetime, ttl: timedelta, **claims: Any
) -> str:
    """A session without the provider round trip (tests and benchmarks only)."""
    return start_session(db, keys, {"sub": sub, **claims}, now, ttl)


# -- prefill tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredTokens:
    sub: str
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    claims: tuple[str, ...]


def store_prefill_tokens(
    db: Session,
    keys: RelyingPartyKeys,
    submission_id: str,
    sub: str,
    tokens: dict[str, Any],
    claims: tuple[str, ...],
    now: datetime,
    sid: str | None = None,
) -> None:
    """``sid``: the provider's session they were issued in (a logout token naming it drops
    them); None keeps the one already stored (a refresh)."""
    payload = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token"),
        "expires_at": (now + timedelta(seconds=int(tokens.get("expires_in") or 60))).isoformat(),
    }
    sealed = keys.prefill_tokens.seal(payload, submission_id)
    kept_sid = _provider_sid({"sid": sid})
    repository.save_prefill_tokens(db, submission_id, sub, sealed, list(claims), now, kept_sid)


def prefill_tokens(db: Session, keys: RelyingPartyKeys, submission_id: str) -> StoredTokens | None:
    row = repository.prefill_tokens(db, submission_id)
    if row is None:
        return None
    payload = keys.prefill_tokens.open(row.tokens_sealed, submission_id)
    return StoredTokens(
        sub=row.sub,
        access_token=payload["access_token"],
        refresh_token=payload.get("refresh_token"),
        expires_at=datetime.fromisoformat(payload["expires_at"]),
        claims=tuple(row.claims or ()),
    )


def drop_prefill_tokens(db: Session, submission_id: str) -> None:
    repository.delete_prefill_tokens(db, submission_id)
