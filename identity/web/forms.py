"""Request helpers shared by the page routes: the CSRF-checked form, safe return paths,
confirmation notices."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.datastructures import FormData
from starlette.requests import Request

from identity.web.csrf import verify_csrf
from identity.web.messages import MESSAGES

DEFAULT_NEXT = "/account"
MAX_NEXT_LENGTH = 2000


async def checked_form(request: Request) -> FormData:
    """The submitted form, after :func:`identity.web.csrf.verify_csrf` (else a 400 page)."""
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
