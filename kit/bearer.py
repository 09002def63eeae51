"""Bearer tokens at a resource server (RFC 6750): reading one from the request (§2.1) and
saying no (§3), in problem+json for our APIs or in the OAuth error format for endpoints of
the OAuth/OIDC family (userinfo, OIDC Core §5.3.3).

Tokens are read from the ``Authorization`` header only: a token in a query string (§2.3)
ends up in logs and in Referer headers.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse

from kit.access_tokens import AccessTokenClaims, AccessTokenVerifier, InvalidToken, JwksUnavailable
from kit.problems import Problem

INVALID_REQUEST = "invalid_request"
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
# RFC 6750 §3: the characters a challenge's error_description and scope may hold; anything
# else (quotes, backslashes, control characters) could break out of the quoted-string.
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1), or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def challenge(
    *,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    realm: str | None = None,
) -> str:
    """The ``WWW-Authenticate`` value (RFC 6750 §3). Without ``error`` it only asks for a
    token (and names the realm), as §3.1 wants when the request carried none."""
    params = {"realm": realm}
    if error:
        params |= {"error": error, "error_description": description, "scope": scope}
    quoted = [f'{name}="{_UNSAFE.sub("", value)}"' for name, value in params.items() if value]
    return "Bearer " + ", ".join(quoted) if quoted else "Bearer"


class BearerProblem(Problem):
    """A 401 or 403 in problem+json (RFC 9457) carrying the RFC 6750 §3 challenge, for APIs
    that answer in problem+json. ``error`` None: no token was sent (§3.1)."""

    def __init__(
        self,
        status: int,
        error: str | None,
        detail: str,
        *,
        scope: str | None = None,
        realm: str | None = None,
    ) -> None:
        super().__init__(status, "Unauthorized" if status == 401 else "Forbidden", detail)
        self.challenge = challenge(error=error, scope=scope, realm=realm)

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["WWW-Authenticate"] = self.challenge
        return response


def oauth_error_response(
    status: int,
    error: str | None,
    description: str,
    *,
    realm: str | None = None,
    scope: str | None = None,
) -> JSONResponse:
    """A 401 or 403 in the OAuth error format (RFC 6749 §5.2 body, RFC 6750 §3 header),
    never cached (the body describes this token). ``error`` None: no token was sent; the
    body says ``invalid_request``, the challenge carries no error code (§3.1)."""
    body = {"error": error or INVALID_REQUEST, "error_description": description}
    return JSONResponse(
        body,
        status_code=status,
        headers={
            "WWW-Authenticate": challenge(error=error, description=description, scope=scope, realm=realm),
            "Cache-Control": "no-store",
        },
    )


def verified_claims(
    verifier: AccessTokenVerifier, token: str, *, realm: str | None = None
) -> AccessTokenClaims:
    """The token's claims, or the problem a resource server answers with: 401
    ``invalid_token`` when it does not verify, 503 when the issuer's keys cannot be loaded
    (the token may be fine; the client should retry, not sign in again)."""
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        raise BearerProblem(
            401, INVALID_TOKEN, f"The access token is not valid: {exc}.", realm=realm
        ) from None
    except JwksUnavailable:
        raise keys_unavailable() from None


def keys_unavailable() -> Problem:
    """The 503 of a resource server that cannot load the issuer's keys."""
    return Problem(503, "Service Unavailable", "The identity provider's keys cannot be fetched.")
