"""UserInfo endpoint (OIDC Core §5.3) with bearer tokens in the header (RFC 6750 §2.1) or in
a form-encoded POST body (§2.2; read by the route), never in a query string, which ends up
in logs. Refusals are RFC 6750 §3 (OIDC Core §5.3.3). A
DPoP-bound token comes in the DPoP scheme with its proof (RFC 9449 §7); as a bearer token
it is refused, with a DPoP challenge."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from identity.oidc.adapter import current
from identity.oidc.provider import OpenIDProvider
from identity.oidc.token_reads import token_with_sealed_claims
from identity.tokens.verifier import presented_access_token_claims
from kit.access_tokens import InvalidToken
from kit.bearer import INSUFFICIENT_SCOPE, INVALID_TOKEN, oauth_error_response
from kit.dpop import Presentation

REALM = "userinfo"


def userinfo_response(provider: OpenIDProvider, presented: tuple[str, Presentation] | None) -> Response:
    ctx = current.get()
    if presented is None:
        return oauth_error_response(
            401,
            None,
            "Send the access token as a Bearer header (or in a form-encoded POST body).",
            realm=REALM,
        )
    token, presentation = presented
    try:
        claims = presented_access_token_claims(
            ctx.db,
            token,
            issuer=provider.settings.issuer,
            now=ctx.now,
            presentation=presentation,
            dpop=provider.dpop.at_resource(),
        )
    except InvalidToken as exc:
        dpop_refusal = exc.scheme == "DPoP"
        return oauth_error_response(
            401,
            exc.error,
            str(exc) if dpop_refusal else "The access token is invalid or expired.",
            realm=REALM,
            scheme=exc.scheme,
            nonce=exc.nonce,
        )
    found = token_with_sealed_claims(ctx.db, claims["jti"])
    row, account = found if found is not None else (None, None)
    if row is None or row.revoked_at is not None or row.kind != "access":
        return oauth_error_response(401, INVALID_TOKEN, "The access token was revoked.", realm=REALM)
    if row.account_id is None or "openid" not in row.scope.split():
        return oauth_error_response(
            403,
            INSUFFICIENT_SCOPE,
            "The token was not issued with scope openid.",
            realm=REALM,
            scope="openid",
        )
    client = provider.server.clients.get(ctx.db, row.client_id)
    if client is None or account is None or not account.active:
        return oauth_error_response(401, INVALID_TOKEN, "The access token is no longer valid.", realm=REALM)
    body = provider.release.userinfo(ctx, row, client, account)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
