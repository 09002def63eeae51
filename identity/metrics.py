"""The provider's own Prometheus counters (kit.metrics serves them): token grants by grant
type, refusals at the token endpoint by OAuth error, sign-in failures and the failures that
made the next attempt wait. Labels take only the values listed here: a client-chosen
``grant_type`` or ``error`` outside them is counted as ``other``."""

from __future__ import annotations

import json

from kit.metrics import counter

GRANT_TYPES = frozenset(
    {"authorization_code", "refresh_token", "client_credentials", "urn:openid:params:grant-type:ciba"}
)
TOKEN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "authorization_pending",
        "slow_down",
        "expired_token",
        "access_denied",
        "transaction_failed",
        "server_error",
        "temporarily_unavailable",
    }
)
SIGNIN_STEPS = ("password", "second_factor")

TOKEN_GRANTS = counter("token_grants_total", "Tokens issued at /token, by grant type", ["grant_type"])
TOKEN_REFUSALS = counter(
    "token_refusals_total",
    "Requests refused at /token, by grant type and OAuth error",
    ["grant_type", "error"],
)
SIGNIN_FAILURES = counter(
    "signin_failures_total",
    "Sign-in attempts that failed, by step and reason (wrong, locked: refused while waiting)",
    ["step", "reason"],
)
SIGNIN_LOCKOUTS = counter(
    "signin_lockouts_total",
    "Failed sign-ins after which the next attempt must wait (the guessing defence's slowing)",
    ["step"],
)


def _bounded(value: object, allowed: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in allowed else "other"


def count_token_response(grant_type: object, status: int, body: bytes | memoryview) -> None:
    """One answer of the token endpoint: a grant, or a refusal with the error it named."""
    grant = _bounded(grant_type, GRANT_TYPES)
    if status == 200:
        TOKEN_GRANTS.labels(grant).inc()
        return
    try:
        error = json.loads(bytes(body)).get("error")
    except (ValueError, AttributeError):
        error = None
    TOKEN_REFUSALS.labels(grant, _bounded(error, TOKEN_ERRORS)).inc()


def count_signin_failure(step: str, reason: str, *, now_waits: bool) -> None:
    SIGNIN_FAILURES.labels(step, reason).inc()
    if now_waits:
        SIGNIN_LOCKOUTS.labels(step).inc()
