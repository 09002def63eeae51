"""Rendering pages: ``render(request, template, context)`` picks the language, gives the
template its translations and CSRF helpers, and sets the security headers every page needs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

from identity.web.forms import csrf_guard
from identity.web.messages import message_for
from kit import i18n
from kit.csrf import CsrfError, CsrfGuard
from kit.i18n import CATALOGUES
from kit.shared_static import SHARED_STATIC_DIR

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = SHARED_STATIC_DIR

SECURITY_HEADERS = {
    # No script at all on these pages; inline <svg> (the TOTP QR code) needs no exception.
    # No form-action: Chromium applies it to the redirect after a POST, and the consent form
    # redirects to the department's redirect_uri.
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Page URLs may carry a login_hint or a return path: never leak them to other sites.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@cache
def environment(language: str) -> Environment:
    env = i18n.page_environment(FileSystemLoader(TEMPLATES_DIR), CATALOGUES.translations(language))
    return env


def render(
    request: Request, template_name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render ``template_name`` in the request's language (kit.i18n.choose_language).

    Templates get ``lang``, ``html_lang``, ``csrf_field()`` (the hidden input),
    ``csrf_token()``, ``error(field)`` (the translated error for a field, from
    ``context["errors"]``), ``switch_urls``, ``demo_mailbox`` (the demo mailbox's path in
    demo mode, else None: identity.app) and whatever ``context`` holds.
    """
    language = i18n.choose_language(request)
    env = environment(language)
    translate = CATALOGUES.translations(language).gettext
    guard = csrf_guard(request)
    errors: dict[str, str] = dict((context or {}).get("errors") or {})

    def error(field: str) -> str | None:
        code = errors.get(field)
        return translate(message_for(code)) if code else None

    values = {
        "request": request,
        "lang": language,
        "html_lang": i18n.HTML_LANG[language],
        "csrf_token": lambda: guard.token(request),
        "csrf_field": lambda: guard.field(request),
        "error": error,
        "errors": errors,
        "message": lambda code: translate(message_for(code)),
        "switch_urls": i18n.language_switch_urls(request),
        "current_path": request.url.path,
        "demo_mailbox": getattr(request.app.state, "demo_mailbox", None),
        **(context or {}),
    }
    html = env.get_template(template_name).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    response.headers["content-language"] = i18n.HTML_LANG[language]
    i18n.remember_language(request, response, language, secure=guard.secure_cookie)
    guard.set_minted_cookie(request, response)
    return response


def install_web(app: FastAPI, csrf: CsrfGuard) -> None:
    """Static files at /static, the pages' CSRF guard and its refusal page, on the identity app."""
    app.state.csrf_guard = csrf
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(CsrfError)
    async def _csrf_refused(request: Request, exc: CsrfError) -> HTMLResponse:
        return render(request, "error.html", {"title_code": "csrf.title", "detail_code": "csrf.detail"}, 400)
