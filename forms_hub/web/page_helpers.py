"""Request helpers shared by the hub's page routes: who is signed in, the CSRF check, the
sign-in redirect, the page for a refused operation, confirmation notices.

A page that catches a refusal (``FormsError``) answers with a page, so the request's unit of
work would commit: :func:`refused` rolls back first, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from forms_hub import i18n as hub_i18n
from forms_hub.access import SessionPrincipal, session_principal
from forms_hub.dependencies import csrf_guard_of, site_of
from forms_hub.errors import FormsError, IdentityLevelRequired
from forms_hub.principals import Officer, Resident
from forms_hub.web.rendering import error_page, redirect, render
from kit.i18n import N_, choose_language
from kit.worker_threads import in_worker_thread

# ?notice=<key> names one of these; only known keys, so the query cannot inject text.
NOTICES = {
    "saved": N_("Your draft was saved."),
    "attached": N_("The file was attached."),
    "removed": N_("The file was removed."),
    "prefilled": N_("Your details were filled from your identity."),
    "prefill_empty": N_("No details were released, so nothing was filled."),
    "prefill_declined": N_("No details were released, so nothing was filled."),
    "identity_level_confirmed": N_("Your identity provider confirmed your identity level for this form."),
}

# A resident's change: None, and the browser goes to the post's success page; or its own answer.
ResidentWork = Callable[[Session, Resident, datetime], Response | None]


def page_router(**kwargs: Any) -> APIRouter:
    """A router of pages: each looks up who is signed in, whom the page's header shows."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(session_principal)], **kwargs)


def notice_text(request: Request) -> str | None:
    key = request.query_params.get("notice")
    return hub_i18n.gettext(choose_language(request), NOTICES[key]) if key in NOTICES else None


def signed_in_resident(principal: SessionPrincipal | None) -> Resident | None:
    return Resident(principal.sub) if principal and principal.kind == "resident" else None


def signed_in_officer(principal: SessionPrincipal | None) -> Officer | None:
    if principal and principal.kind == "officer" and principal.department:
        return Officer(principal.sub, principal.department)
    return None


def sign_in_redirect(request: Request) -> Response:
    return redirect("/forms/auth/login?next=" + quote(request.url.path))


def failure_page(request: Request, exc: FormsError) -> Response:
    if isinstance(exc, IdentityLevelRequired):
        return identity_level_page(request, exc.required_level, exc.identity_level)
    # A status in the sentence is shown by its name in the page's language, not by its code.
    lang = choose_language(request)
    values = {k: hub_i18n.status_name(v, lang) if k == "status" else v for k, v in exc.values.items()}
    return error_page(request, exc.status, exc.message, values)


def identity_level_page(
    request: Request, required: str, shown: str | None, submission: dict[str, Any] | None = None
) -> Response:
    """The page for a form that needs a higher identity level (403): what it needs, what the
    resident's identity release showed, and how to get proofed. ``submission``: the draft's
    view, to fill it from the identity again once proofed."""
    context = {
        "required": required,
        "shown": shown,
        "submission": submission,
        "proofing_url": site_of(request).identity_proofing_url,
    }
    return render(request, "identity_level.html", context, status=403)


def refused(request: Request, db: Session, exc: FormsError) -> Response:
    """The page for a refused operation, after undoing whatever it had done."""
    db.rollback()
    return failure_page(request, exc)


def check_csrf(request: Request, form: FormData) -> None:
    """Raise ``kit.csrf.CsrfError`` (a 403 page) unless ``form`` carries the session's token."""
    csrf_guard_of(request).verify(request, form)


async def resident_post(
    request: Request,
    db: Session,
    visitor: SessionPrincipal | None,
    now: datetime,
    work: ResidentWork,
    success: str | None = None,
    form: FormData | None = None,
) -> Response:
    """A resident's form post: signed in, CSRF-checked, ``work`` in the request's unit of
    work, then ``work``'s own answer, or else a redirect to ``success`` (or the page for the
    refusal, nothing changed)."""
    form = form if form is not None else await request.form()
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    check_csrf(request, form)

    def run() -> Response:
        try:
            answer = work(db, resident, now)
        except FormsError as exc:
            return refused(request, db, exc)
        if answer is not None:
            return answer
        assert success is not None, "a post whose work answers nothing names its success page"
        return redirect(success)

    return await in_worker_thread(run)
