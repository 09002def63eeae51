"""Registering department clients and checking their secrets.

Client secrets are 256-bit random values that we generate, so a keyed SHA-256 (HMAC) is a
sound way to store them: there is no low-entropy password to stretch, and an argon2 hash on
every token request would cap client_credentials throughput at a few dozen per second.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from identity.assurance import ACR_ORDER, IAL_ORDER
from identity.clients import profiles, repository
from identity.clients.models import Client
from kit.outbound import DestinationRefused, OutboundPolicy
from kit.sealing import derive_key

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", CIBA_GRANT_TYPE)
CIBA_DELIVERY_MODES = ("poll", "ping")
OIDC_SCOPES = ("openid", "profile", "email", "phone", "address", "hkid", "offline_access")
# Scopes of the gateway's own APIs, granted to department back-ends and auditors.
API_SCOPES = (
    "ledger:department",
    "ledger:audit",
    "ledger:resident",
    "forms:department",
    "app:device",
    "signing",  # a department may ask residents for digital signatures (identity/signing)
)
SUBJECT_TYPES = ("pairwise", "public")
STRICT_OUTBOUND = OutboundPolicy()
AUDIT_SCOPE = "ledger:audit"


class ClientRegistrationError(ValueError):
    """A registration field is invalid; ``field`` names it (RFC 7591 §3.2.2 style)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Registration:
    name: str
    department: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    allowed_scopes: tuple[str, ...] = ("openid", "profile")
    post_logout_redirect_uris: tuple[str, ...] = ()
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    subject_type: str = "pairwise"
    sector_identifier: str | None = None
    id_token_signed_response_alg: str = "RS256"
    name_zh: str | None = None
    purpose: str | None = None
    purpose_zh: str | None = None
    legal_basis: str | None = None
    require_per_request_consent: bool = False
    first_party: bool = False
    audit_system: bool = False
    client_id: str | None = None
    # The department's floors: the least identity level (identity.assurance.IAL_ORDER) and
    # the least ``acr`` (ACR_ORDER) a resident must have to be signed in to it.
    min_identity_level: str | None = None
    min_acr: str | None = None
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    backchannel_token_delivery_mode: str | None = None
    backchannel_client_notification_endpoint: str | None = None
    # FAPI 2.0 and its parts (identity/clients/profiles.py); RFC 8707 resources.
    profile: str | None = None
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    require_signed_request_object: bool = False
    resources: tuple[str, ...] = ()


def secret_digest(master_key: bytes, secret: str) -> str:
    key = derive_key(master_key, "client-secrets/v1")
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def check_secret(master_key: bytes, stored_digest: str | None, presented: str) -> bool:
    if not stored_digest or not presented:
        return False
    return hmac.compare_digest(stored_digest, secret_digest(master_key, presented))


def _validate_redirect_uri(uri: str, field: str, *, native: bool) -> None:
    parts = urlsplit(uri)
    if parts.fragment:
        raise ClientRegistrationError(field, f"{uri!r} must not contain a fragment (RFC 6749 §3.1.2)")
    if parts.scheme == "https" and parts.netloc:
        return
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme == "http" and loopback:
        return
    # RFC 8252 §7.1: native apps may use a private-use scheme in reverse domain notation.
    if native and parts.scheme and "." in parts.scheme and not parts.netloc.startswith("//"):
        return
    raise ClientRegistrationError(field, f"{uri!r} must be https (or http on loopback)")


def _validate_fetched_url(uri: str, field: str, outbound: OutboundPolicy) -> None:
    """A URL the provider itself will fetch (``jwks_uri``; the same rule for any such URL a
    client registers): public https only, unlike a redirect URI, which the resident's
    browser follows. ``kit.outbound`` checks it again at every fetch."""
    try:
        outbound.check_registered(uri)
    except DestinationRefused as exc:
        raise ClientRegistrationError(field, f"{exc} (the provider fetches it)") from None


def validate(reg: Registration, outbound: OutboundPolicy = STRICT_OUTBOUND) -> None:
    if not reg.name.strip():
        raise ClientRegistrationError("name", "is required")
    if not reg.department.strip():
        raise ClientRegistrationError("department", "is required")
    if reg.token_endpoint_auth_method not in AUTH_METHODS:
        raise ClientRegistrationError("token_endpoint_auth_method", f"one of {AUTH_METHODS}")
    for grant in reg.grant_types:
        if grant not in GRANT_TYPES:
            raise ClientRegistrationError("grant_types", f"{grant!r} is not supported")
    for scope in reg.allowed_scopes:
        if scope not in OIDC_SCOPES + API_SCOPES:
            raise ClientRegistrationError("scope", f"{scope!r} is not supported")
    native = reg.token_endpoint_auth_method == "none"
    if "authorization_code" in reg.grant_types and not reg.redirect_uris:
        raise ClientRegistrationError("redirect_uris", "at least one is required")
    for uri in reg.redirect_uris:
        _validate_redirect_uri(uri, "redirect_uris", native=native)
    for uri in reg.post_logout_redirect_uris:
        _validate_redirect_uri(uri, "post_logout_redirect_uris", native=native)
    if native and "client_credentials" in reg.grant_types:
        raise ClientRegistrationError("grant_types", "a public client cannot use client_credentials")
    if reg.token_endpoint_auth_method == "private_key_jwt":
        if bool(reg.jwks) == bool(reg.jwks_uri):
            raise ClientRegistrationError("jwks", "give exactly one of jwks or jwks_uri")
        if reg.jwks is not None and not isinstance(reg.jwks.get("keys"), list):
            raise ClientRegistrationError("jwks", "must be a JWK Set with a 'keys' list")
    if reg.jwks_uri is not None:
        _validate_fetched_url(reg.jwks_uri, "jwks_uri", outbound)
    if reg.subject_type not in SUBJECT_TYPES:
        raise ClientRegistrationError("subject_type", f"one of {SUBJECT_TYPES}")
    if reg.id_token_signed_response_alg not in ("RS256", "ES256"):
        raise ClientRegistrationError("id_token_signed_response_alg", "RS256 or ES256")
    if reg.audit_system and not (
        "client_credentials" in reg.grant_types and AUDIT_SCOPE in reg.allowed_scopes
    ):
        raise ClientRegistrationError("audit_system", f"needs the client_credentials grant and {AUDIT_SCOPE}")
    if reg.min_identity_level is not None and reg.min_identity_level not in IAL_ORDER:
        raise ClientRegistrationError("min_identity_level", f"one of {', '.join(IAL_ORDER)}")
    if reg.min_acr is not None and reg.min_acr not in ACR_ORDER:
        raise ClientRegistrationError("min_acr", f"one of {', '.join(ACR_ORDER)}")
    if (broken := profiles.problem(reg)) is not None:
        raise ClientRegistrationError(*broken)
    validate_callbacks(reg, outbound)


def validate_callbacks(reg: Registration, outbound: OutboundPolicy) -> None:
    """The URLs the provider POSTs to: a back-channel logout URI (Back-Channel Logout 1.0
    §2.2) and a CIBA ping endpoint (CIBA §4), under the outbound policy like ``jwks_uri``."""
    if reg.backchannel_logout_uri is not None:
        _validate_callback(reg.backchannel_logout_uri, "backchannel_logout_uri", outbound)
    elif reg.backchannel_logout_session_required:
        raise ClientRegistrationError("backchannel_logout_session_required", "needs a backchannel_logout_uri")
    mode = reg.backchannel_token_delivery_mode
    endpoint = reg.backchannel_client_notification_endpoint
    if CIBA_GRANT_TYPE not in reg.grant_types:
        if mode is not None or endpoint is not None:
            raise ClientRegistrationError("backchannel_token_delivery_mode", "needs the CIBA grant")
        return
    if reg.token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post", "private_key_jwt"):
        raise ClientRegistrationError("grant_types", "a public client cannot use CIBA")
    if ciba_delivery_mode(reg) not in CIBA_DELIVERY_MODES:
        raise ClientRegistrationError("backchannel_token_delivery_mode", f"one of {CIBA_DELIVERY_MODES}")
    if mode == "ping":
        if endpoint is None:
            raise ClientRegistrationError("backchannel_client_notification_endpoint", "is required for ping")
        _validate_callback(endpoint, "backchannel_client_notification_endpoint", outbound)
    elif endpoint is not None:
        raise ClientRegistrationError("backchannel_client_notification_endpoint", "is for ping mode only")


def ciba_delivery_mode(reg: Registration) -> str | None:
    """A CIBA client's delivery mode: poll unless it asked for another."""
    if CIBA_GRANT_TYPE not in reg.grant_types:
        return None
    return reg.backchannel_token_delivery_mode or "poll"


def _validate_callback(uri: str, field: str, outbound: OutboundPolicy) -> None:
    try:
        outbound.check_callback(uri)
    except DestinationRefused as exc:
        raise ClientRegistrationError(field, f"{exc} (the provider posts to it)") from None


def register(
    db: Session,
    master_key: bytes,
    reg: Registration,
    now: datetime,
    *,
    outbound: OutboundPolicy = STRICT_OUTBOUND,
) -> tuple[Client, str | None]:
    """Store a new client; returns it and its secret (shown once, never stored in clear).
    ``outbound``: the deployment's rule for URLs the provider fetches (its settings'
    ``outbound_policy``; strict unless a test deployment allows private addresses)."""
    reg = profiles.apply(reg)
    validate(reg, outbound)
    client_id = reg.client_id or f"{reg.department.lower()}-{secrets.token_hex(6)}"
    if repository.get(db, client_id) is not None:
        raise ClientRegistrationError("client_id", "is already registered")
    needs_secret = reg.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post")
    secret = secrets.token_urlsafe(32) if needs_secret else None
    sector = reg.sector_identifier or _default_sector(reg)
    client = Client(
        client_id=client_id,
        client_secret_hash=secret_digest(master_key, secret) if secret else None,
        name=reg.name.strip(),
        name_zh=reg.name_zh,
        department=reg.department.strip().upper(),
        client_type="public" if reg.token_endpoint_auth_method == "none" else "confidential",
        redirect_uris=list(reg.redirect_uris),
        post_logout_redirect_uris=list(reg.post_logout_redirect_uris),
        grant_types=list(reg.grant_types),
        allowed_scopes=list(reg.allowed_scopes),
        token_endpoint_auth_method=reg.token_endpoint_auth_method,
        jwks=reg.jwks,
        jwks_uri=reg.jwks_uri,
        subject_type=reg.subject_type,
        sector_identifier=sector,
        id_token_signed_response_alg=reg.id_token_signed_response_alg,
        purpose=reg.purpose,
        purpose_zh=reg.purpose_zh,
        legal_basis=reg.legal_basis,
        require_per_request_consent=reg.require_per_request_consent,
        first_party=reg.first_party,
        audit_system=reg.audit_system,
        min_identity_level=reg.min_identity_level,
        min_acr=reg.min_acr,
        backchannel_logout_uri=reg.backchannel_logout_uri,
        backchannel_logout_session_required=reg.backchannel_logout_session_required,
        backchannel_token_delivery_mode=ciba_delivery_mode(reg),
        backchannel_client_notification_endpoint=reg.backchannel_client_notification_endpoint,
        created_at=now,
        profile=reg.profile,
        require_pushed_authorization_requests=reg.require_pushed_authorization_requests,
        dpop_bound_access_tokens=reg.dpop_bound_access_tokens,
        require_signed_request_object=reg.require_signed_request_object,
        resources=list(reg.resources) or None,
    )
    repository.add(db, client)
    return client, secret


def _default_sector(reg: Registration) -> str:
    """OIDC Core §8.1: without a sector_identifier_uri the sector is the redirect URIs' host;
    we take the department, so one department's several clients share one pairwise ``sub``."""
    return f"department:{reg.department.strip().upper()}"


def get_client(db: Session, client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    client = repository.get(db, client_id)
    return None if client is None or client.disabled else client


def find_client(db: Session, client_id: str) -> Client | None:
    """The client, disabled or not (what an administrator looks at)."""
    return repository.get(db, client_id) if client_id and len(client_id) <= 64 else None


def list_clients(db: Session) -> list[Client]:
    return list(repository.all_by_id(db))


def registration_metadata(client: Client) -> dict[str, Any]:
    """What an operator sees of a registration, in RFC 7591 / OpenID metadata names."""
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "department": client.department,
        "disabled": client.disabled,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types),
        "scope": " ".join(client.allowed_scopes),
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "subject_type": client.subject_type,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "jwks_uri": client.jwks_uri,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "backchannel_token_delivery_mode": client.backchannel_token_delivery_mode,
        "backchannel_client_notification_endpoint": client.backchannel_client_notification_endpoint,
        "purpose": client.purpose,
        "legal_basis": client.legal_basis,
        "audit_system": client.audit_system,
        "min_identity_level": client.min_identity_level,
        "min_acr": client.min_acr,
        "profile": client.profile,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "require_signed_request_object": client.require_signed_request_object,
        "resources": list(client.resources or []),
    }
