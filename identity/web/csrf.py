"""CSRF protection for every POST form: a signed double-submit token.

The browser gets a random, HttpOnly ``egate_csrf`` cookie (a pre-session cookie: it exists
before sign-in, which also defends the sign-in form against login CSRF). Forms carry
``csrf_token = HMAC(csrf key, cookie)``; :func:`verify_csrf` recomputes it. A cross-site page
can make the browser send the cookie but can neither read it nor compute the token without
the server key. When the browser sends an ``Origin`` header it must be the issuer's origin.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from identity.security.keyring import keyring_for

CSRF_COOKIE = "egate_csrf"
CSRF_FIELD = "csrf_token"


class CsrfError(Exception):
    """The form did not carry a valid token; answered with a 400 page (identity.web.rendering)."""


def _cookie_value(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE)
    if value and 20 <= len(value) <= 100:
        return value
    generated = getattr(request.state, "csrf_new_cookie", None)
    if generated is None:
        generated = secrets.token_urlsafe(32)
        request.state.csrf_new_cookie = generated
    return generated


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden ``csrf_token`` field (templates: ``csrf_field()``)."""
    return keyring_for(request.app.state.runtime).csrf_token_for(_cookie_value(request))


def verify_csrf(request: Request, form: Any) -> None:
    """Raise :class:`CsrfError` unless ``form`` carries the token for this browser's cookie."""
    runtime = request.app.state.runtime
    origin = request.headers.get("origin")
    if origin and origin != "null":
        issuer = urlsplit(runtime.settings.issuer)
        if origin.rstrip("/") != f"{issuer.scheme}://{issuer.netloc}":
            raise CsrfError("origin")
    cookie = request.cookies.get(CSRF_COOKIE)
    submitted = form.get(CSRF_FIELD) if form is not None else None
    if not cookie or not isinstance(submitted, str) or not submitted:
        raise CsrfError("missing")
    expected = keyring_for(runtime).csrf_token_for(cookie)
    if not hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace")):
        raise CsrfError("mismatch")


def set_csrf_cookie_if_new(request: Request, response: Response) -> None:
    generated = getattr(request.state, "csrf_new_cookie", None)
    if generated is not None and request.cookies.get(CSRF_COOKIE) != generated:
        runtime = request.app.state.runtime
        response.set_cookie(
            CSRF_COOKIE,
            generated,
            path="/",
            httponly=True,
            samesite="lax",
            secure=runtime.settings.issuer.startswith("https://"),
        )
