"""UserInfo endpoint (OIDC Core §5.3) with bearer tokens in the header only (RFC 6750 §2.1):
tokens in a query string end up in logs."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from identity.clients.service import get_client
from identity.oidc.adapter import current
from identity.tokens.models import IssuedToken


def _challenge(status: int, error: str, description: str) -> Response:
    header = f'Bearer error="{error}", error_description="{description}"'
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"WWW-Authenticate": header, "Cache-Control": "no-store"},
    )


def userinfo_response(provider, authorization: str) -> Response:  # noqa: ANN001
    ctx = current.get()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return JSONResponse(
            {
                "error": "invalid_request",
                "error_description": "Send the access token as a Bearer header.",
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="userinfo"', "Cache-Control": "no-store"},
        )
    claims = provider.server.verify_access_token(token.strip())
    if claims is None:
        return _challenge(401, "invalid_token", "The access token is invalid or expired.")
    row = ctx.db.get(IssuedToken, claims["jti"])
    if row is None or row.revoked_at is not None or row.kind != "access":
        return _challenge(401, "invalid_token", "The access token was revoked.")
    if row.account_id is None or "openid" not in row.scope.split():
        return _challenge(403, "insufficient_scope", "The token was not issued with scope openid.")
    client = get_client(ctx.db, row.client_id)
    if client is None or provider.release.account_inactive(ctx.db, row.account_id):
        return _challenge(401, "invalid_token", "The access token is no longer valid.")
    body = provider.release.userinfo(ctx, row, client)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
