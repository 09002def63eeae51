"""UserInfo endpoint (OIDC Core §5.3) with bearer tokens in the header only (RFC 6750 §2.1):
tokens in a query string end up in logs. Refusals are RFC 6750 §3 (OIDC Core §5.3.3)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from identity.clients.service import get_client
from identity.oidc.adapter import current
from identity.oidc.provider import OpenIDProvider
from identity.tokens import repository as tokens_repository
from kit.bearer import INSUFFICIENT_SCOPE, INVALID_TOKEN, bearer_token, oauth_error_response

REALM = "userinfo"


def userinfo_response(provider: OpenIDProvider, authorization: str) -> Response:
    ctx = current.get()
    token = bearer_token(authorization)
    if token is None:
        return oauth_error_response(401, None, "Send the access token as a Bearer header.", realm=REALM)
    claims = provider.server.verify_access_token(token)
    if claims is None:
        return oauth_error_response(
            401, INVALID_TOKEN, "The access token is invalid or expired.", realm=REALM
        )
    row = tokens_repository.get(ctx.db, claims["jti"])
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
    client = get_client(ctx.db, row.client_id)
    if client is None or provider.release.account_inactive(ctx.db, row.account_id):
        return oauth_error_response(401, INVALID_TOKEN, "The access token is no longer valid.", realm=REALM)
    body = provider.release.userinfo(ctx, row, client, row.account_id)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
