"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-3).

With a valid ``id_token_hint`` the department we issued it to asks, and the session ends at
once. Without one, any page could send the browser here (logout CSRF: an image tag signing
residents out, mid-form, at will), so a signed-in person is asked first (§2 lets the OP ask
the End-User whether to log out): the confirmation page posts back with a CSRF token, and
only that post ends the session.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

from fastapi import Request
from joserfc import jwt
from joserfc.errors import JoseError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from identity.backchannel.service import RP_LOGOUT, announce_logout
from identity.clients.service import get_client
from identity.keys.service import published_jwks
from identity.oidc.adapter import current
from identity.oidc.jwks_cache import key_set
from identity.oidc.provider import OpenIDProvider
from identity.sessions.service import SESSION_COOKIE, current_session
from identity.sessions.service import end_session as end_browser_session
from identity.web import render, verify_csrf
from kit.csrf import CSRF_FIELD
from kit.i18n import CATALOGUES, CHINESE, N_

# The request's parameters the confirmation page carries into its post (all but the hint,
# which it never has, and the CSRF token, which it adds).
CARRIED_PARAMS = ("client_id", "post_logout_redirect_uri", "state", "ui_locales")


def _hinted_client_id(provider: OpenIDProvider, id_token_hint: str) -> str | None:
    """The audience of an ID token we issued (expired ones are accepted, per §2)."""
    ctx = current.get()
    keys = key_set(published_jwks(ctx.db, ctx.now))
    try:
        token = jwt.decode(id_token_hint, keys, algorithms=["RS256", "ES256"])
    except (JoseError, ValueError):
        return None
    if token.claims.get("iss") != provider.settings.issuer:
        return None
    aud = token.claims.get("aud")
    return aud if isinstance(aud, str) else None


def end_session(provider: OpenIDProvider, request: Request, params: dict[str, str]) -> Response:
    ctx = current.get()
    post_logout = params.get("post_logout_redirect_uri")
    client_id = params.get("client_id")
    if params.get("id_token_hint"):
        hinted = _hinted_client_id(provider, params["id_token_hint"])
        if hinted is None or (client_id and client_id != hinted):
            return _page(400, N_("The sign-out request is not valid (id_token_hint)."))
        client_id = hinted
    redirect = None
    if post_logout:
        client = get_client(ctx.db, client_id) if client_id else None
        if client is None or post_logout not in client.post_logout_redirect_uris:
            # Never redirect to an address the client did not register (§3).
            return _page(400, N_("The sign-out request is not valid (post_logout_redirect_uri)."))
        redirect = post_logout
    session = current_session(ctx.db, request, provider.session_policy, ctx.now)
    if session is not None and not params.get("id_token_hint"):
        if CSRF_FIELD not in params:
            return _confirmation(request, params)
        verify_csrf(request, params)  # a wrong token: kit.csrf.CsrfError, the 400 page
    if session is not None:
        end_browser_session(ctx.db, session.id, ctx.now)
        announce_logout(ctx.db, session.account_id, [session.id], ctx.now, RP_LOGOUT)
    if redirect:
        if params.get("state"):
            redirect += ("&" if "?" in redirect else "?") + urlencode({"state": params["state"]})
        response: Response = RedirectResponse(redirect, status_code=303)
    else:
        response = _page(200, N_("You have signed out."))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _confirmation(request: Request, params: dict[str, str]) -> HTMLResponse:
    carried = {name: params[name] for name in CARRIED_PARAMS if params.get(name)}
    return render(request, "oidc/logout_confirm.html", {"carried": carried, "signed_in": False})


def _page(status: int, message: str) -> HTMLResponse:
    """``message`` (a msgid) in both languages: a department's sign-out request carries no
    language of the resident's."""
    english, chinese = html.escape(message), html.escape(CATALOGUES.gettext(CHINESE, message))
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{english}</title>"
        f"</head><body><main><h1>{english}</h1><p lang='zh-Hant-HK'>{chinese}</p></main></body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
