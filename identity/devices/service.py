"""Signing in with the phone app: binding devices, the browser's QR / app-to-app request,
the back-channel (CIBA) request, the app's decision, and removing a device.

The QR code carries only a public request id: it names no person and unlocks nothing. The
sign-in completes only in the browser holding the request's cookie, and only after a bound
device signed an approval; both sides show the same short code so the resident can tell
that the approval is the one they started (as iAM Smart does).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session

from identity.accounts.service import RequestMeta, record_event
from identity.assurance import ACR_DEVICE, AMR_SOFTWARE_KEY
from identity.backchannel.service import DEVICE_REMOVED, announce_logout
from identity.claims import requested_claims
from identity.claims_parameter import MalformedClaimsRequest, parse_claims_parameter
from identity.clients.models import Client
from identity.clients.service import get_client
from identity.devices import repository
from identity.devices.ciba_ping import PingSealer, valid_notification_token
from identity.devices.models import AppSignin, Device
from identity.devices.signatures import SignedRequest
from identity.sessions import repository as sessions_repository
from identity.sessions.models import BrowserSession
from identity.sessions.service import SessionPolicy, start_session
from identity.tokens import repository as tokens_repository

BROWSER_SIGNIN_TTL = timedelta(minutes=2)
CIBA_DEFAULT_TTL = 180
CIBA_MAX_TTL = 600
CIBA_INTERVAL = 5
BROWSER_COOKIE = "egate_app_signin"
_CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY3479"  # nothing a resident could misread


class AppSigninError(Exception):
    """Refused; ``code`` is a stable reason (shown to the app, or an OAuth error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BrowserOutcome:
    status: str  # pending | approved | denied | expired
    location: str | None = None
    session_cookie: str | None = None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _short_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))


def _validate_public_jwk(jwk: Any) -> dict[str, str]:
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise AppSigninError("invalid_key", "the device key must be an EC P-256 public JWK")
    if "d" in jwk:
        raise AppSigninError("invalid_key", "send the public key only")
    if not all(isinstance(jwk.get(c), str) and 40 <= len(jwk[c]) <= 50 for c in ("x", "y")):
        raise AppSigninError("invalid_key", "the key's coordinates are malformed")
    return {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}


# -- devices ---------------------------------------------------------------------------------


def bind_device(
    db: Session,
    now: datetime,
    *,
    account_id: str,
    name: str,
    public_jwk: Any,
    session_id: str | None,
    meta: RequestMeta | None,
) -> Device:
    key = _validate_public_jwk(public_jwk)
    name = (name or "").strip()[:100] or "Phone"
    device = Device(
        id=secrets.token_hex(16),
        account_id=account_id,
        name=name,
        public_jwk=key,
        bound_session_id=session_id,
        created_at=now,
    )
    repository.add_device(db, device)
    record_event(db, account_id, "device.bound", meta, now, device=name)
    return device


def list_devices(db: Session, account_id: str) -> list[Device]:
    return list(repository.bound_devices(db, account_id))


def remove_device(
    db: Session, now: datetime, *, account_id: str, device_id: str, meta: RequestMeta | None
) -> bool:
    """Ends everything the device could still do: its pending approvals, the sessions it
    approved and the tokens issued through them or to the app it was bound from."""
    device = repository.get_device(db, device_id)
    if device is None or device.account_id != account_id or device.removed_at is not None:
        return False
    device.removed_at = now
    repository.cancel_open_of_device(db, device.id, now)
    if not repository.bound_devices(db, account_id):
        repository.cancel_pending_for_account(db, account_id)
    session_ids = sessions_repository.ids_approved_by_device(db, device.id)
    if device.bound_session_id:
        session_ids.add(device.bound_session_id)
    if session_ids:
        sessions_repository.end_many(db, session_ids, now)
        announce_logout(db, account_id, session_ids, now, DEVICE_REMOVED)
        tokens_repository.revoke_of_sessions(db, session_ids, now)
    record_event(db, account_id, "device.removed", meta, now, device=device.name)
    return True


# -- requests --------------------------------------------------------------------------------


def _request_details(db: Session, client: Client | None, scope: str, claims: Any) -> dict[str, Any]:
    if client is None:
        return {"client_id": None, "department": None, "client_name": None, "fields": []}
    return {
        "client_id": client.client_id,
        "department": client.department,
        "client_name": client.name,
        "fields": requested_claims(
            scope, claims if isinstance(claims, dict) else None, client.allowed_scopes
        ),
    }


def start_browser_signin(db: Session, now: datetime, next_path: str) -> tuple[AppSignin, str]:
    """A QR / app-to-app request for the browser that asked; returns it and the cookie."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(next_path).query).items()}
    client = get_client(db, query.get("client_id", "")) if query.get("client_id") else None
    try:
        claims = parse_claims_parameter(query["claims"]) if query.get("claims") else None
    except MalformedClaimsRequest:
        claims = None
    browser_token = secrets.token_urlsafe(32)
    signin = AppSignin(
        id=secrets.token_urlsafe(16),
        kind="browser",
        browser_token_hash=_hash(browser_token),
        short_code=_short_code(),
        scope=query.get("scope", ""),
        next_path=next_path,
        created_at=now,
        expires_at=now + BROWSER_SIGNIN_TTL,
        **_request_details(db, client, query.get("scope", ""), claims),
    )
    repository.add_signin(db, signin)
    return signin, browser_token


def start_backchannel(
    db: Session,
    now: datetime,
    *,
    client: Client,
    scope: str,
    login_hint: str | None,
    binding_message: str | None,
    requested_expiry: int | None,
    client_notification_token: str | None = None,
    pings: PingSealer | None = None,
) -> tuple[str, AppSignin]:
    """OpenID Connect CIBA §7.1: the department names a resident it already knows by the
    ``sub`` it received; the resident approves in the app. A client registered for ping
    mode (§10.2) gives the token it wants the ping to carry (``pings`` keeps it sealed)."""
    ping = client.backchannel_token_delivery_mode == "ping"
    if ping and (pings is None or not valid_notification_token(client_notification_token)):
        raise AppSigninError(
            "invalid_request", "client_notification_token (a bearer token) is required in ping mode"
        )
    if "openid" not in scope.split():
        raise AppSigninError("invalid_scope", "scope must include openid")
    if not login_hint:
        raise AppSigninError("invalid_request", "login_hint (the sub you know) is required")
    if binding_message is not None and (len(binding_message) > 64 or not binding_message.isprintable()):
        raise AppSigninError("invalid_binding_message", "binding_message: up to 64 printable characters")
    record = tokens_repository.subject(db, client.sector_identifier, login_hint[:64])
    if record is None or not repository.bound_devices(db, record.account_id):
        raise AppSigninError("unknown_user_id", "no resident with a bound app is known by this hint")
    ttl = CIBA_DEFAULT_TTL if requested_expiry is None else max(30, min(requested_expiry, CIBA_MAX_TTL))
    auth_req_id = secrets.token_urlsafe(32)
    signin_id = secrets.token_urlsafe(16)
    signin = AppSignin(
        id=signin_id,
        kind="ciba",
        auth_req_id_hash=_hash(auth_req_id),
        short_code=_short_code(),
        scope=scope,
        binding_message=binding_message,
        target_account_id=record.account_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        **_request_details(db, client, scope, None),
    )
    if ping and pings is not None and client_notification_token is not None:
        signin.ping_sealed = pings.seal(signin_id, auth_req_id, client_notification_token)
    repository.add_signin(db, signin)
    return auth_req_id, signin


def pending_for_device(db: Session, now: datetime, device: Device) -> list[AppSignin]:
    """Approvals waiting for this device's resident (back-channel requests)."""
    return list(repository.pending_for_account(db, device.account_id, now))


def describe(signin: AppSignin) -> dict[str, Any]:
    """What the app shows before the resident decides: who asks, for what, and the code."""
    return {
        "request_id": signin.id,
        "kind": signin.kind,
        "department": signin.department,
        "client_name": signin.client_name,
        "fields": signin.fields,
        "code": signin.short_code,
        "binding_message": signin.binding_message,
        "expires_at": int(signin.expires_at.timestamp()),
    }


def load_open_request(db: Session, now: datetime, request_id: str) -> AppSignin:
    signin = repository.get_signin(db, (request_id or "")[:32])
    if signin is None:
        raise AppSigninError("not_found", "no such sign-in request")
    if signin.status != "pending":
        raise AppSigninError("already_decided", "this sign-in request was already answered")
    if signin.expires_at <= now:
        raise AppSigninError("expired", "this sign-in request has expired")
    return signin


def decide(
    db: Session, now: datetime, signed: SignedRequest, *, approve: bool, meta: RequestMeta | None
) -> AppSignin:
    signin = repository.signin_for_update(db, str(signed.claims.get("rid", ""))[:32])
    if signin is None:
        raise AppSigninError("not_found", "no such sign-in request")
    signin = load_open_request(db, now, signin.id)
    device = signed.device
    if signin.kind == "ciba" and device.account_id != signin.target_account_id:
        raise AppSigninError("wrong_device", "this request is for another resident's device")
    if approve and not hmac.compare_digest(str(signed.claims.get("code", "")), signin.short_code):
        raise AppSigninError("code_mismatch", "the code does not match the one on the screen")
    signin.status = "approved" if approve else "denied"
    signin.account_id = device.account_id
    signin.device_id = device.id
    signin.decided_at = now
    record_event(
        db,
        device.account_id,
        "app.approved" if approve else "app.denied",
        meta,
        now,
        department=signin.department,
        client=signin.client_name,
        device=device.name,
        channel="back-channel" if signin.kind == "ciba" else "browser",
    )
    return signin


def _device_session(
    db: Session, policy: SessionPolicy, now: datetime, signin: AppSignin
) -> tuple[str, BrowserSession]:
    assert signin.account_id is not None  # set by the approval
    token, view = start_session(
        db,
        policy,
        now,
        account_id=signin.account_id,
        acr=ACR_DEVICE,
        amr=[AMR_SOFTWARE_KEY],
        source=None,
        user_agent="e-Gateway app",
    )
    row = sessions_repository.get(db, view.id)
    assert row is not None  # added just above
    row.device_id = signin.device_id
    signin.session_id = row.id
    return token, row


def browser_outcome(
    db: Session, policy: SessionPolicy, now: datetime, request_id: str, browser_token: str | None
) -> BrowserOutcome:
    """What the waiting browser should do now. Only the browser that started the request
    (its cookie) can turn an approval into a session, exactly once."""
    signin = repository.signin_for_update(db, (request_id or "")[:32])
    if (
        signin is None
        or signin.kind != "browser"
        or not browser_token
        or not hmac.compare_digest(signin.browser_token_hash or "", _hash(browser_token))
    ):
        raise AppSigninError("not_found", "no such sign-in request in this browser")
    denied = f"/authorize/app-denied?rid={signin.id}"
    if signin.status == "approved" and signin.consumed_at is None:
        signin.consumed_at = now
        token, _ = _device_session(db, policy, now, signin)
        return BrowserOutcome("approved", signin.next_path or "/account", token)
    if signin.status == "pending" and signin.expires_at > now:
        return BrowserOutcome("pending")
    if signin.status == "pending":
        signin.status = "expired"
    return BrowserOutcome(signin.status if signin.status != "approved" else "expired", denied)


def poll_backchannel(
    db: Session, policy: SessionPolicy, now: datetime, client: Client, auth_req_id: str
) -> AppSignin:
    """CIBA §10.1 / §11: raises AppSigninError with the OAuth error code while not ready."""
    signin = repository.signin_by_auth_req_for_update(db, _hash(auth_req_id or ""))
    if signin is None or signin.client_id != client.client_id:
        raise AppSigninError("invalid_grant", "unknown auth_req_id")
    if signin.consumed_at is not None:
        raise AppSigninError("invalid_grant", "this auth_req_id was already used")
    if signin.status == "denied" or signin.status == "cancelled":
        signin.consumed_at = now
        raise AppSigninError("access_denied", "the resident did not approve")
    if signin.status == "pending":
        if signin.expires_at <= now:
            raise AppSigninError("expired_token", "the request expired before the resident approved")
        too_soon = signin.last_polled_at and (now - signin.last_polled_at).total_seconds() < CIBA_INTERVAL - 1
        signin.last_polled_at = now
        raise AppSigninError("slow_down" if too_soon else "authorization_pending", "not approved yet")
    signin.consumed_at = now
    _device_session(db, policy, now, signin)
    return signin
