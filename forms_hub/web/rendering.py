"""Rendering the hub's pages: Jinja2 with autoescaping and the page language (kit.i18n), a
strict CSP, and CSRF tokens bound to the hub session (kit.csrf).

The signed-in person shown in the page's header is the one the route's access dependency
looked up (:data:`forms_hub.access.Visitor`); every page route declares one."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from forms_hub import i18n as hub_i18n
from forms_hub.access import remembered_principal
from forms_hub.config import Site
from forms_hub.crypto import derive_key
from forms_hub.dependencies import csrf_guard_of, site_of
from forms_hub.oidc_client.service import SESSION_COOKIE
from kit import i18n
from kit.csrf import CsrfError, CsrfGuard, origin_of
from kit.i18n import N_

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CSRF_REFUSED = N_("This form has expired. Go back, reload the page and try again.")


def build_csrf_guard(master_key: bytes, site: Site) -> CsrfGuard:
    # Every hub form sits behind sign-in, so the token is bound to the session cookie and
    # dies with the session.
    return CsrfGuard(
        key=derive_key(master_key, "csrf"), anchor_cookie=SESSION_COOKIE, origin=origin_of(site.base_url)
    )


@cache
def environment(lang: str) -> Environment:
    env = i18n.page_environment(FileSystemLoader(TEMPLATES_DIR), i18n.CATALOGUES.translations(lang))
    env.globals.update(
        t=lambda pair: hub_i18n.pick(pair, lang),
        status_name=lambda status: hub_i18n.status_name(status, lang),
        licence_status_name=lambda status: hub_i18n.licence_status_name(status, lang),
        action_name=lambda action: hub_i18n.action_name(action, lang),
        actor_name=lambda kind: hub_i18n.actor_name(kind, lang),
        identity_level_name=lambda level: hub_i18n.identity_level_name(level, lang),
        level_needed_name=lambda level: hub_i18n.level_needed_name(level, lang),
        notification_text=lambda n: hub_i18n.notification_text(n.kind, n.params, lang),
    )
    return env


def _security_headers(site: Site) -> dict[str, str]:
    issuer = urlsplit(site.issuer)
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
    site = site_of(request)
    lang = i18n.choose_language(request)
    guard = csrf_guard_of(request)
    values = {
        "lang": lang,
        "html_lang": i18n.HTML_LANG[lang],
        # The notice named in the query is not carried to the other language.
        "switch_urls": i18n.language_switch_urls(request, drop=("notice",)),
        "principal": remembered_principal(request),
        "csrf_field": lambda: guard.field(request),
        "current_path": request.url.path,
        "issuer": site.issuer,
        **(context or {}),
    }
    response = HTMLResponse(
        environment(lang).get_template(template).render(values),
        status_code=status,
        headers=_security_headers(site),
    )
    i18n.remember_language(request, response, lang, secure=guard.secure_cookie)
    return response


def error_page(
    request: Request, status: int, message: str, values: dict[str, Any] | None = None
) -> HTMLResponse:
    """A page saying what went wrong, in the page's language: ``message`` is a msgid of the
    catalogue (marked with ``N_``), its ``%(name)s`` placeholders filled from ``values``."""
    text = hub_i18n.gettext(i18n.choose_language(request), message)
    title = N_("Page not found") if status == 404 else N_("Something went wrong")
    return render(
        request, "error.html", {"title": title, "message": text % values if values else text}, status
    )


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def install_csrf_refusal(app: FastAPI) -> None:
    """A form without this session's CSRF token (kit.csrf) gets a 403 page and changes nothing."""

    @app.exception_handler(CsrfError)
    async def _csrf_refused(request: Request, exc: CsrfError) -> HTMLResponse:
        return error_page(request, 403, CSRF_REFUSED)
