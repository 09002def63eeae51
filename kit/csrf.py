"""CSRF protection for every POST form of every service: an HMAC token bound to a cookie.

Defends against another site making a signed-in browser submit one of our forms. The token is
``HMAC-SHA256(key, anchor)`` where the anchor is the value of an HttpOnly cookie the service
names: its session cookie where every form sits behind sign-in (the token then dies with the
session), or a random pre-session cookie minted here where forms come before sign-in (the
sign-in form itself, which also defends against login CSRF). A cross-site page can make the
browser send the cookie but can neither read it nor compute the token without the server key;
tokens are compared in constant time. When the browser sends an ``Origin`` header (all current
browsers do on a POST) it must be our own origin, which also stops an attacker who planted a
cookie of their own on the victim's browser from using the token that goes with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

CSRF_FIELD = "csrf_token"
# A pre-session cookie outside these bounds is not one we minted: mint a fresh one instead.
MIN_ANCHOR_LENGTH = 20
MAX_ANCHOR_LENGTH = 200


class CsrfError(Exception):
    """The form did not carry a valid token (or came from another origin); the reason is
    ``"origin"``, ``"missing"`` or ``"mismatch"``. Services answer it with a 400 page."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class CsrfGuard:
    """One service's CSRF settings.

    key: a sub-key derived for CSRF only (never the master key itself).
    anchor_cookie: the HttpOnly cookie the token is bound to.
    origin: ``scheme://host[:port]`` the forms are served from.
    mint_anchor: True when forms are shown before the anchor exists (a pre-session cookie,
        set by :meth:`set_minted_cookie`); False when the anchor is the session cookie and a
        page without a session has no form to protect (its token is then empty).
    """

    key: bytes
    anchor_cookie: str
    origin: str
    mint_anchor: bool = False

    @property
    def secure_cookie(self) -> bool:
        return self.origin.startswith("https://")

    def _anchor(self, request: Request) -> str | None:
        value = request.cookies.get(self.anchor_cookie)
        if not self.mint_anchor:
            return value or None
        if value and MIN_ANCHOR_LENGTH <= len(value) <= MAX_ANCHOR_LENGTH:
            return value
        minted = _minted(request)
        if self.anchor_cookie not in minted:
            minted[self.anchor_cookie] = secrets.token_urlsafe(32)
        return minted[self.anchor_cookie]

    def _token_for(self, anchor: str) -> str:
        digest = hmac.new(self.key, anchor.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token(self, request: Request) -> str:
        """The value of a form's hidden ``csrf_token`` field ("" without an anchor)."""
        anchor = self._anchor(request)
        return self._token_for(anchor) if anchor else ""

    def field(self, request: Request) -> Markup:
        """The hidden input itself (templates: ``{{ csrf_field() }}``)."""
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, self.token(request))

    def verify(self, request: Request, form: Mapping[str, Any] | None) -> None:
        """Raise :class:`CsrfError` unless ``form`` carries the token for this browser's cookie."""
        sent_origin = request.headers.get("origin")
        if sent_origin and sent_origin != "null" and sent_origin.rstrip("/") != self.origin:
            raise CsrfError("origin")
        anchor = request.cookies.get(self.anchor_cookie)
        submitted = form.get(CSRF_FIELD) if form is not None else None
        if not anchor or not isinstance(submitted, str) or not submitted:
            raise CsrfError("missing")
        expected = self._token_for(anchor)
        if not hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace")):
            raise CsrfError("mismatch")

    def set_minted_cookie(self, request: Request, response: Response) -> None:
        """Send the pre-session cookie that :meth:`token` minted for this request, if any."""
        minted = _minted(request).get(self.anchor_cookie)
        if minted is not None and request.cookies.get(self.anchor_cookie) != minted:
            response.set_cookie(
                self.anchor_cookie, minted, path="/", httponly=True, samesite="lax", secure=self.secure_cookie
            )


def _minted(request: Request) -> dict[str, str]:
    """Anchors minted while handling this request, so every form on a page gets the same one."""
    minted = getattr(request.state, "csrf_minted_anchors", None)
    if minted is None:
        minted = {}
        request.state.csrf_minted_anchors = minted
    return minted
