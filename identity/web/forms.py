"""Request helpers shared by the page routes: the CSRF-checked form, safe return paths,
confirmation notices."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request

from identity.web.messages import MESSAGES
from kit.csrf import CsrfGuard, origin_of
from kit.sealing import derive_key

# Forms come before sign-in (the sign-in form itself), so the token is bound to a random
# pre-session cookie rather than to the session (kit.csrf).
CSRF_COOKIE = "egate_csrf"
DEFAULT_NEXT = "/account"
MAX_NEXT_LENGTH = 2000


def build_csrf_guard(master_key: bytes, issuer: str) -> CsrfGuard:
    """The pages' CSRF guard; identity.app builds it once (rendering.install_web)."""
    return CsrfGuard(
        key=derive_key(master_key, "csrf/v1"),
        anchor_cookie=CSRF_COOKIE,
        origin=origin_of(issuer),
        mint_anchor=True,
    )


def csrf_guard(request: Request) -> CsrfGuard:
    guard: CsrfGuard = request.app.state.csrf_guard
    return guard


def verify_csrf(request: Request, form: Any) -> None:
    """Raise ``kit.csrf.CsrfError`` (a 400 page) unless ``form`` carries this browser's token."""
    csrf_guard(request).verify(request, form)


async def checked_form(request: Request) -> FormData:
    """The submitted form, after :func:`verify_csrf` (else a 400 page)."""
    form = await request.form()
    verify_csrf(request, form)
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """``value`` if it is a path on this site ("/..." but not "//host" or "/\\host"), else
    ``default``: the open-redirect defence for ``next``."""
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value:
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def notice_from(request: Request) -> str | None:
    """A confirmation banner named in the query (``?notice=notice.password_changed``); only
    known message codes, so the query cannot inject text."""
    code = request.query_params.get("notice")
    if code and code in MESSAGES and (code.startswith("notice.") or code == "second_factor.restart"):
        return code
    return None
