"""Rendering the hub's pages: Jinja2 with autoescaping, the page language, a strict CSP,
and CSRF tokens bound to the hub session."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from forms_hub.crypto import keyed_digest
from forms_hub.errors import Forbidden
from forms_hub.web import i18n

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def csrf_token(request: Request, hub: Any) -> str:
    from forms_hub.oidc_client.service import SESSION_COOKIE

    cookie = request.cookies.get(SESSION_COOKIE, "")
    return keyed_digest(hub.master_key, "csrf", cookie)[:40] if cookie else ""


def check_csrf(request: Request, hub: Any, presented: Any) -> None:
    expected = csrf_token(request, hub)
    if not expected or not isinstance(presented, str) or not hmac.compare_digest(expected, presented):
        raise Forbidden("This form has expired. Go back, reload the page and try again.")


def _security_headers(hub: Any) -> dict[str, str]:
    issuer = urlsplit(hub.issuer)
    provider = f"{issuer.scheme}://{issuer.netloc}"
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
            f"form-action 'self' {provider}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    hub = request.app.state.hub
    lang = i18n.choose_language(request)
    from forms_hub.access import session_principal

    principal = session_principal(request, hub)
    query = dict(request.query_params)
    switch_urls = {
        code: request.url.path
        + "?"
        + urlencode({**{k: v for k, v in query.items() if k != "notice"}, "lang": code})
        for code in i18n.LANGUAGES
    }
    values = {
        "lang": lang,
        "html_lang": i18n.HTML_LANG[lang],
        "_": i18n.translator(lang),
        "t": lambda pair: i18n.pick(pair, lang),
        "status_name": lambda status: i18n.status_name(status, lang),
        "licence_status_name": lambda status: i18n.pick(
            i18n.LICENCE_STATUS_NAMES.get(status, (status, status)), lang
        ),
        "action_name": lambda action: i18n.pick(i18n.ACTION_NAMES.get(action, (action, action)), lang),
        "notification_text": lambda n: i18n.notification_text(n.kind, n.params, lang),
        "LANGUAGE_NAMES": i18n.LANGUAGE_NAMES,
        "switch_urls": switch_urls,
        "principal": principal,
        "csrf": csrf_token(request, hub),
        "current_path": request.url.path,
        "issuer": hub.issuer,
        **(context or {}),
    }
    response = HTMLResponse(
        _env.get_template(template).render(values), status_code=status, headers=_security_headers(hub)
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(
            i18n.LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="lax", path="/"
        )
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {404: "Page not found"}
    return render(
        request,
        "error.html",
        {"title": titles.get(status, "Something went wrong"), "message": message},
        status,
    )


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
