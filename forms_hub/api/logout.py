"""The hub's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0 §2.5-2.8):
the provider posts a logout token here when a resident's session ends there, and the hub
ends its own sessions opened from it. Registered as the hub client's
``backchannel_logout_uri`` (``egate demo``; the README's `egate clients add`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from forms_hub.dependencies import Provider
from forms_hub.oidc_client.logout import ReplayedLogoutToken, end_sessions_named
from forms_hub.oidc_client.provider import InvalidToken, ProviderError
from forms_hub.oidc_client.service import own_client_id
from kit.openapi import oauth_error_responses
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = APIRouter(tags=["sign-in"])
NO_STORE = {"Cache-Control": "no-store"}
LOGOUT_TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["logout_token"],
                    "properties": {
                        "logout_token": {"type": "string", "description": "a signed logout token"}
                    },
                }
            }
        },
    }
}


def _refused(description: str) -> JSONResponse:
    """§2.8: 400 with an OAuth-style error body."""
    return JSONResponse({"error": "invalid_request", "error_description": description}, 400, headers=NO_STORE)


@router.post(
    "/api/backchannel-logout",
    response_class=Response,
    responses={
        200: {"description": "The hub sessions the token names have ended"},
        **oauth_error_responses(400),
    },
    openapi_extra=LOGOUT_TOKEN_BODY,
)
async def backchannel_logout(request: Request, db: DbSession, provider: Provider, now: Now) -> Response:
    form = await request.form(max_files=0, max_fields=8)
    token = form.get("logout_token")
    if not isinstance(token, str) or not token:
        return _refused("logout_token is required")

    def work() -> Response:
        client_id = own_client_id(db)
        db.commit()  # nothing held while the provider's keys may be fetched
        try:
            claims = provider.verify_logout_token(token, client_id=client_id, now=now.timestamp())
        except InvalidToken as exc:
            return _refused(f"the logout token is not valid: {exc}")
        except ProviderError:
            return _refused("the provider's keys cannot be fetched now; send it again")
        try:
            end_sessions_named(db, claims, now)
        except ReplayedLogoutToken as exc:
            db.rollback()
            return _refused(str(exc))
        return Response(status_code=200, headers=NO_STORE)

    return await in_worker_thread(work)
