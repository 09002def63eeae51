"""Signing in to the forms hub through the provider, the callback (sign-in and prefill),
and signing out. Each handler calls the provider only between short transactions."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from forms_hub.access import session_principal
from forms_hub.definitions.service import document_of
from forms_hub.errors import FormsError
from forms_hub.hub import HubDep, Resident
from forms_hub.oidc_client.provider import InvalidToken, ProviderError
from forms_hub.oidc_client.service import (
    BINDING_COOKIE,
    PURPOSE_PREFILL,
    PURPOSE_SIGN_IN,
    SESSION_COOKIE,
    AuthFlowError,
    NotConfigured,
    begin,
    client_credentials,
    consume,
    end_session,
    own_client_id,
    start_session,
    store_prefill_tokens,
)
from forms_hub.submissions import service as submissions
from forms_hub.submissions.prefill import apply_prefill
from forms_hub.web.page_helpers import check_csrf
from forms_hub.web.rendering import error_page, redirect
from kit.i18n import choose_language

router = APIRouter(tags=["sign-in"], include_in_schema=False)
BINDING_MAX_AGE = 600


def secure_cookies(issuer: str) -> bool:
    return urlsplit(issuer).scheme == "https"


def set_binding_cookie(response: Response, binding: str, issuer: str) -> None:
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=BINDING_MAX_AGE,
        path="/forms/auth",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(issuer),
    )


def start_authorization(
    request: Request,
    hub,  # noqa: ANN001 - FormsHub
    *,
    purpose: str,
    return_to: str,
    sub: str | None = None,
    submission_id: str | None = None,
    claims: tuple[str, ...] = (),
) -> Response:
    binding = request.cookies.get(BINDING_COOKIE) or secrets.token_urlsafe(24)
    lang = choose_language(request)
    try:
        with hub.transaction() as db:
            client_id, _ = client_credentials(db, hub)
            params = begin(
                db,
                hub,
                client_id=client_id,
                binding=binding,
                purpose=purpose,
                return_to=return_to,
                now=hub.now(),
                sub=sub,
                submission_id=submission_id,
                claims=claims,
                ui_locales="zh-HK" if lang == "zh-HK" else "en",
            )
        location = hub.provider.authorization_url(**params)
    except NotConfigured:
        return error_page(request, 503, "The forms hub is not yet registered with the identity provider.")
    except ProviderError:
        return error_page(request, 502, "The identity provider cannot be reached. Try again later.")
    response = RedirectResponse(location, status_code=303)
    set_binding_cookie(response, binding, hub.issuer)
    return response


@router.get("/auth/login")
def login(
    request: Request, hub: HubDep, next: Annotated[str, Query(max_length=500)] = "/forms/my"
) -> Response:  # noqa: A002
    return start_authorization(request, hub, purpose=PURPOSE_SIGN_IN, return_to=next)


@router.get("/auth/callback")
def callback(request: Request, hub: HubDep) -> Response:
    params = request.query_params
    now = hub.now()
    if params.get("iss") and params["iss"] != hub.issuer:  # RFC 9207 mix-up defence
        return error_page(request, 400, "This answer came from another identity provider.")
    try:
        with hub.transaction() as db:
            pending = consume(db, hub, params.get("state", ""), request.cookies.get(BINDING_COOKIE), now)
            client_id, secret = client_credentials(db, hub)
    except AuthFlowError as exc:
        if session_principal(request, hub) is not None:
            return redirect("/forms/my")  # a repeated callback (double click, back button)
        return error_page(request, 400, str(exc))
    except NotConfigured:
        return error_page(request, 503, "The forms hub is not yet registered with the identity provider.")
    if params.get("error"):
        if pending.purpose == PURPOSE_PREFILL:
            return redirect(f"/forms/submissions/{pending.submission_id}/edit?notice=prefill_declined")
        return error_page(request, 400, "Sign-in was cancelled or refused by the identity provider.")
    try:
        tokens = hub.provider.exchange_code(
            client_id=client_id,
            secret=secret,
            code=params.get("code", "")[:512],
            redirect_uri=hub.redirect_uri,
            code_verifier=pending.code_verifier,
        )
        claims = hub.provider.verify_id_token(
            tokens.get("id_token", ""),
            client_id=client_id,
            nonce=pending.nonce,
            access_token=tokens["access_token"],
        )
        userinfo = (
            hub.provider.userinfo(tokens["access_token"]) if pending.purpose == PURPOSE_PREFILL else None
        )
    except InvalidToken:
        return error_page(request, 400, "The identity provider's answer could not be verified; start again.")
    except ProviderError:
        return error_page(
            request, 502, "The identity provider refused or could not complete the sign-in; start again."
        )
    if pending.purpose == PURPOSE_SIGN_IN:
        with hub.transaction() as db:
            cookie = start_session(db, hub, claims, now)
        response = redirect(pending.return_to)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(hub.config.session_ttl.total_seconds()),
            path="/forms",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(hub.issuer),
        )
        response.delete_cookie(BINDING_COOKIE, path="/forms/auth")
        return response
    if claims["sub"] != pending.sub or (userinfo or {}).get("sub") != pending.sub:
        return error_page(request, 400, "You signed in as another person than the one filling in this form.")
    try:
        with hub.transaction() as db:
            submission = submissions.get_own(
                db, Resident(pending.sub), pending.submission_id or "", now, lock=True
            )
            doc = document_of(submissions.definition_of(db, submission))
            filled = apply_prefill(db, hub, submission, doc, userinfo or {}, now)
            if filled:
                store_prefill_tokens(db, hub, submission.id, pending.sub, tokens, pending.claims, now)
    except FormsError as exc:
        return error_page(request, exc.status, exc.detail)
    notice = "prefilled" if filled else "prefill_empty"
    return redirect(f"/forms/submissions/{pending.submission_id}/edit?notice={notice}")


@router.post("/auth/logout")
async def logout(request: Request, hub: HubDep) -> Response:
    form = await request.form()
    check_csrf(request, form)
    cookie = request.cookies.get(SESSION_COOKIE)

    def work() -> str:
        with hub.transaction() as db:
            end_session(db, hub, cookie)
            client_id = own_client_id(db, hub)
        try:
            endpoint = hub.provider.metadata().get("end_session_endpoint")
        except ProviderError:
            endpoint = None
        if not endpoint:
            return "/forms/"
        return (
            endpoint
            + "?"
            + urlencode({"client_id": client_id, "post_logout_redirect_uri": f"{hub.base_url}/"})
        )

    response = redirect(await run_in_threadpool(work))
    response.delete_cookie(SESSION_COOKIE, path="/forms")
    return response
