"""Bearer tokens at a resource server (RFC 6750): reading one from the request (§2.1) and
saying no (§3), in problem+json for our APIs or in the OAuth error format for endpoints of
the OAuth/OIDC family (userinfo, OIDC Core §5.3.3). DPoP-bound tokens (RFC 9449 §7) come in
the ``DPoP`` scheme with a proof: ``presented_token`` reads both, and refusals about them
carry a ``DPoP`` challenge (with a ``DPoP-Nonce`` when a fresh nonce is what is missing).

Tokens are read from the ``Authorization`` header; an endpoint may also take one in a
form-encoded POST body (§2.2, ``form_body_tokens``: the provider's userinfo, where OpenID
Connect clients such as pyoidc send it by default). Never from a query string (§2.3): it
ends up in logs and in Referer headers.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from kit.access_tokens import AccessTokenClaims, AccessTokenVerifier, InvalidToken, JwksUnavailable
from kit.dpop import ALGORITHMS, Presentation, public_url, read_authorization, url_path
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


FORM_ENCODED = "application/x-www-form-urlencoded"


async def form_body_tokens(request: Request) -> list[str]:
    """The ``access_token`` values of a form-encoded POST body (RFC 6750 §2.2: POST, the
    ``application/x-www-form-urlencoded`` type, single-part); none for any other request.
    More than one value is the caller's to refuse."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "POST" or content_type != FORM_ENCODED:
        return []
    form = await request.form(max_files=0, max_fields=16)
    return [value for value in form.getlist("access_token") if isinstance(value, str)]


def presented_token(request: HTTPConnection, issuer: str) -> tuple[str, Presentation] | None:
    """The access token of an ``Authorization: Bearer|DPoP <token>`` header, with how it
    was presented (scheme, DPoP proof, method and URL as the client addressed it: under the
    ``issuer``'s origin), or None without one."""
    return read_authorization(
        request.headers.get("authorization"),
        request.headers.getlist("dpop"),
        request.scope.get("method", "GET"),
        public_url(issuer, url_path(request.scope)),
    )


def challenge(
    *,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    realm: str | None = None,
    scheme: str = "Bearer",
) -> str:
    """The ``WWW-Authenticate`` value (RFC 6750 §3; RFC 9449 §7.1 for ``scheme="DPoP"``,
    which also names the proof algorithms accepted). Without ``error`` it only asks for a
    token (and names the realm), as §3.1 wants when the request carried none."""
    params = {"realm": realm}
    if error:
        params |= {"error": error, "error_description": description, "scope": scope}
    if scheme == "DPoP":
        params["algs"] = " ".join(ALGORITHMS)
    quoted = [f'{name}="{_UNSAFE.sub("", value)}"' for name, value in params.items() if value]
    return f"{scheme} " + ", ".join(quoted) if quoted else scheme


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
        scheme: str = "Bearer",
        nonce: str | None = None,
    ) -> None:
        super().__init__(status, "Unauthorized" if status == 401 else "Forbidden", detail)
        self.challenge = challenge(error=error, scope=scope, realm=realm, scheme=scheme)
        self.nonce = nonce

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["WWW-Authenticate"] = self.challenge
        if self.nonce:
            response.headers["DPoP-Nonce"] = self.nonce
        return response


def oauth_error_response(
    status: int,
    error: str | None,
    description: str,
    *,
    realm: str | None = None,
    scope: str | None = None,
    scheme: str = "Bearer",
    nonce: str | None = None,
) -> JSONResponse:
    """A 401 or 403 in the OAuth error format (RFC 6749 §5.2 body, RFC 6750 §3 header),
    never cached (the body describes this token). ``error`` None: no token was sent; the
    body says ``invalid_request``, the challenge carries no error code (§3.1)."""
    body = {"error": error or INVALID_REQUEST, "error_description": description}
    headers = {
        "WWW-Authenticate": challenge(
            error=error, description=description, scope=scope, realm=realm, scheme=scheme
        ),
        "Cache-Control": "no-store",
    }
    if nonce:
        headers["DPoP-Nonce"] = nonce
    return JSONResponse(body, status_code=status, headers=headers)


def verified_claims(
    verifier: AccessTokenVerifier,
    token: str,
    *,
    realm: str | None = None,
    presentation: Presentation | None = None,
) -> AccessTokenClaims:
    """The token's claims, or the problem a resource server answers with: 401
    ``invalid_token`` when it does not verify (``invalid_dpop_proof`` or ``use_dpop_nonce``
    for a DPoP proof that does not hold, in a ``DPoP`` challenge), 503 when the issuer's
    keys cannot be loaded (the token may be fine; the client should retry, not sign in
    again). ``presentation``: how the token came (``presented_token``); without it a
    DPoP-bound token is refused."""
    try:
        return verifier.verify(token, presentation=presentation)
    except InvalidToken as exc:
        raise BearerProblem(
            401,
            exc.error,
            f"The access token is not valid: {exc}.",
            realm=realm,
            scheme=exc.scheme,
            nonce=exc.nonce,
        ) from None
    except JwksUnavailable:
        raise keys_unavailable() from None


def keys_unavailable() -> Problem:
    """The 503 of a resource server that cannot load the issuer's keys."""
    return Problem(503, "Service Unavailable", "The identity provider's keys cannot be fetched.")
