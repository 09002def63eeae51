"""Who is calling: the identity provider's RFC 9068 JWT access tokens, verified locally
against its JWKS, and the access rules every route declares once as a dependency.

Defended against: unsigned (``alg: none``) and HMAC tokens (the public key used as an HMAC
secret) — only ES256 verifies; ID tokens and other JWTs replayed as access tokens — the
``typ`` header must be ``at+jwt`` (RFC 9068 §4); tokens for other resource servers — ``aud``
must include this service; expired tokens — checked against the service's clock.

Scopes: ``ledger:resident`` reads the caller's own entries and grants. A resident is the
token's ``sub``, which is the provider's internal account id only for clients registered
with the *public* subject type: residents reach this API through the gateway's first-party
public-subject clients (``ConsentConfig.resident_client_ids`` can pin them). A pairwise
``sub`` matches no resident, so a misregistered client sees nothing rather than another's
entries. ``ledger:department`` reads entries whose recipient department is the token's
``department`` claim (client-credentials tokens carry it). ``ledger:audit`` is for auditors.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from jose import jwt
from jose.exceptions import JOSEError
from starlette.responses import JSONResponse

from kit.problems import Problem

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
ALGORITHM = "ES256"
MAX_TOKEN_LENGTH = 8192
CLOCK_SKEW_SECONDS = 30

SCOPE_RESIDENT = "ledger:resident"
SCOPE_DEPARTMENT = "ledger:department"
SCOPE_AUDIT = "ledger:audit"
LEDGER_SCOPES = (SCOPE_RESIDENT, SCOPE_DEPARTMENT, SCOPE_AUDIT)


class AuthProblem(Problem):
    """A 401/403 with the RFC 6750 §3 ``WWW-Authenticate`` challenge."""

    def __init__(self, status: int, error: str, detail: str, scope: str | None = None) -> None:
        title = "Unauthorized" if status == 401 else "Forbidden"
        super().__init__(status, title, detail)
        challenge = f'Bearer error="{error}"'
        if scope:
            challenge += f', scope="{scope}"'
        self.challenge = challenge

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["WWW-Authenticate"] = self.challenge
        return response


def invalid_token(detail: str) -> AuthProblem:
    return AuthProblem(401, "invalid_token", detail)


class JwksSource(Protocol):
    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's JWK Set; ``refresh`` asks for a fresh copy (an unknown kid)."""


class StaticJwks:
    """Keys given directly (tests, or a deployment that pins them)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        return self.document


class HttpJwks:
    """``GET {issuer}/jwks`` with a short cache. An unknown kid refetches, but at most once
    per ``min_refresh_seconds``, so a flood of forged kids cannot hammer the provider."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 60.0,
        min_refresh_seconds: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self.ttl = ttl_seconds
        self.min_refresh = min_refresh_seconds
        self._client = client or httpx.Client(timeout=3.0, follow_redirects=False)
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._fetched_at = float("-inf")

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._document is None or age > self.ttl or (refresh and age > self.min_refresh):
                try:
                    response = self._client.get(self.url)
                    response.raise_for_status()
                    document = response.json()
                except (httpx.HTTPError, ValueError):
                    if self._document is None:
                        raise Problem(
                            503, "Service Unavailable", "The identity provider's keys are unreachable."
                        ) from None
                    # Keep serving the keys we have; try again after min_refresh, not per request.
                    self._fetched_at = time.monotonic() - self.ttl + self.min_refresh
                    return self._document
                if isinstance(document, dict) and isinstance(document.get("keys"), list):
                    self._document = document
                    self._fetched_at = time.monotonic()
            return self._document or {"keys": []}


@dataclass(frozen=True)
class Principal:
    subject: str
    client_id: str | None
    scopes: frozenset[str]
    department: str | None
    token_id: str | None
    is_admin: bool = False

    @property
    def is_auditor(self) -> bool:
        return SCOPE_AUDIT in self.scopes


class AccessTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksSource,
        clock: Callable[[], datetime],
        resident_client_ids: frozenset[str] | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.clock = clock
        self.resident_client_ids = resident_client_ids

    def verify(self, token: str) -> Principal:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise invalid_token("The access token is missing or too long.")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise invalid_token("The access token is not a JWT.") from None
        if header.get("alg") != ALGORITHM:
            raise invalid_token(f"Access tokens must be signed with {ALGORITHM}.")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise invalid_token("The token is not an access token (typ must be at+jwt).")
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # Expiry is checked below against the service's clock, not the host's.
                options={
                    "verify_exp": False,
                    "verify_at_hash": False,
                    # RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are required.
                    **{f"require_{claim}": True for claim in ("iss", "aud", "exp", "iat", "sub", "jti")},
                },
            )
        except JOSEError as error:
            raise invalid_token(f"The access token does not verify: {error}.") from None
        return self._principal(claims)

    def _key(self, kid: Any) -> dict[str, Any]:
        for refresh in (False, True):
            candidates = [
                k
                for k in self.jwks.keys(refresh=refresh).get("keys", [])
                if isinstance(k, dict)
                and k.get("kty") == "EC"
                and k.get("crv") == "P-256"
                and k.get("use", "sig") == "sig"
                and k.get("alg", ALGORITHM) == ALGORITHM
            ]
            if kid is None and len(candidates) == 1:
                return candidates[0]
            for candidate in candidates:
                if kid is not None and candidate.get("kid") == kid:
                    return candidate
        raise invalid_token("The access token was signed by an unknown key.")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        now = self.clock().timestamp()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise invalid_token("The access token lacks exp or iat.")
        if exp <= now:
            raise invalid_token("The access token has expired.")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise invalid_token("The access token was issued in the future.")
        subject, scope, client_id = claims.get("sub"), claims.get("scope", ""), claims.get("client_id")
        if not all(isinstance(v, str) and v for v in (subject, client_id)) or not isinstance(scope, str):
            raise invalid_token("The access token lacks sub, client_id or scope.")
        department = claims.get("department")
        jti = claims.get("jti")
        return Principal(
            subject=subject,
            client_id=client_id,
            scopes=frozenset(scope.split()),
            department=department if isinstance(department, str) and department else None,
            token_id=jti if isinstance(jti, str) else None,
        )


# -- dependencies: the access rules, declared once -------------------------------------------


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthProblem(401, "invalid_request", "Send an access token: Authorization: Bearer <token>.")
    return token.strip()


def _verifier(request: Request) -> AccessTokenVerifier:
    return request.app.state.consent.verifier


def authenticated(request: Request) -> Principal:
    return _verifier(request).verify(bearer_token(request))


def _needs(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise AuthProblem(403, "insufficient_scope", f"This needs the {scope} scope.", scope)


def resident(request: Request, principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_RESIDENT)
    if principal.department is not None:
        raise AuthProblem(403, "insufficient_scope", "A department's token cannot act for a resident.")
    allowed = _verifier(request).resident_client_ids
    if allowed is not None and principal.client_id not in allowed:
        raise AuthProblem(403, "insufficient_scope", "This client may not read residents' ledgers.")
    return principal


def department(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_DEPARTMENT)
    if principal.department is None:
        raise AuthProblem(403, "insufficient_scope", "The access token names no department.")
    return principal


def auditor(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_AUDIT)
    return principal


def ledger_reader(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    if not principal.scopes & set(LEDGER_SCOPES):
        raise AuthProblem(403, "insufficient_scope", "This needs a ledger scope.", " ".join(LEDGER_SCOPES))
    return principal


def auditor_or_admin(request: Request) -> Principal:
    """An auditor's token, or the administrator credential (EGATE_ADMIN_TOKEN)."""
    token = bearer_token(request)
    expected = request.app.state.runtime.settings.admin_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return Principal("admin", None, frozenset(), None, None, is_admin=True)
    principal = _verifier(request).verify(token)
    _needs(principal, SCOPE_AUDIT)
    return principal


Resident = Annotated[Principal, Depends(resident)]
Department = Annotated[Principal, Depends(department)]
Auditor = Annotated[Principal, Depends(auditor)]
LedgerReader = Annotated[Principal, Depends(ledger_reader)]
AuditorOrAdmin = Annotated[Principal, Depends(auditor_or_admin)]
