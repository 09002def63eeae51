"""Rendering pages: ``render(request, template, context)`` picks the language, gives the
template its translations and CSRF helpers, and sets the security headers every page needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from identity.web import i18n
from identity.web.csrf import CSRF_FIELD, CsrfError, csrf_token, set_csrf_cookie_if_new
from identity.web.messages import message_for

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
HONG_KONG = timezone(timedelta(hours=8), "HKT")  # no daylight saving since 1979

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


def hong_kong_time(value: datetime | None, with_seconds: bool = False) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(HONG_KONG)
    return local.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)
    env.filters["hkt"] = hong_kong_time
    env.globals["LANGUAGE_NAMES"] = i18n.LANGUAGE_NAMES
    return env


def _switch_url(request: Request, language: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", language))
    return request.url.path + "?" + urlencode(query)


def render(
    request: Request, template_name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render ``template_name`` in the request's language (identity.web.i18n.choose_language).

    Templates get ``lang``, ``html_lang``, ``csrf_field()`` (the hidden input),
    ``csrf_token()``, ``error(field)`` (the translated error for a field, from
    ``context["errors"]``), ``switch_urls`` and whatever ``context`` holds.
    """
    language = i18n.choose_language(request)
    env = environment(language)
    translate = i18n.translations(language).gettext
    errors: dict[str, str] = dict((context or {}).get("errors") or {})

    def error(field: str) -> str | None:
        code = errors.get(field)
        return translate(message_for(code)) if code else None

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token(request))

    values = {
        "request": request,
        "lang": language,
        "html_lang": i18n.HTML_LANG[language],
        "csrf_token": lambda: csrf_token(request),
        "csrf_field": csrf_field,
        "error": error,
        "errors": errors,
        "message": lambda code: translate(message_for(code)),
        "switch_urls": {other: _switch_url(request, other) for other in i18n.LANGUAGES},
        "current_path": request.url.path,
        **(context or {}),
    }
    html = env.get_template(template_name).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    response.headers["content-language"] = i18n.HTML_LANG[language]
    if i18n.match_language(request.query_params.get("lang")):
        response.set_cookie(
            i18n.LANG_COOKIE,
            language,
            max_age=365 * 24 * 3600,
            path="/",
            samesite="lax",
            secure=request.app.state.runtime.settings.issuer.startswith("https://"),
        )
    set_csrf_cookie_if_new(request, response)
    return response


def install_web(app: FastAPI) -> None:
    """Static files at /static and the CSRF refusal page, on the identity app."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(CsrfError)
    async def _csrf_refused(request: Request, exc: CsrfError) -> HTMLResponse:
        return render(request, "error.html", {"title_code": "csrf.title", "detail_code": "csrf.detail"}, 400)
