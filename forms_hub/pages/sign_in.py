"""Signing in to the forms hub through the provider, the callback (sign-in and prefill),
and signing out. Each handler ends its transaction before it calls the provider."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from forms_hub.access import Visitor
from forms_hub.assurance import VERIFIED_CLAIMS, level_satisfies
from forms_hub.config import FormsConfig, Site
from forms_hub.definitions.service import document_of
from forms_hub.dependencies import AnswerSealer, Config, HubSite, Provider, RpKeys
from forms_hub.errors import FormsError
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.provider import InvalidToken, ProviderClient, ProviderError
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
from forms_hub.principals import Resident
from forms_hub.submissions import service as submissions
from forms_hub.submissions.prefill import apply_prefill
from forms_hub.submissions.records import definition_of
from forms_hub.web.page_helpers import check_csrf, failure_page, page_router
from forms_hub.web.rendering import error_page, redirect
from kit.i18n import N_, choose_language
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = page_router(tags=["sign-in"])
BINDING_MAX_AGE = 600
NOT_REGISTERED = N_("The forms hub is not yet registered with the identity provider.")


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
    db: Session,
    keys: RelyingPartyKeys,
    provider: ProviderClient,
    site: Site,
    config: FormsConfig,
    now: datetime,
    *,
    purpose: str,
    return_to: str,
    sub: str | None = None,
    submission_id: str | None = None,
    claims: Mapping[str, Any] | None = None,
) -> Response:
    """Store an authorization request (committed before the provider is asked for its
    endpoint, or takes the pushed request) and send the browser to the provider."""
    binding = request.cookies.get(BINDING_COOKIE) or secrets.token_urlsafe(24)
    lang = choose_language(request)
    try:
        client_id, secret = client_credentials(db, keys)
        params = begin(
            db,
            keys,
            client_id=client_id,
            redirect_uri=site.redirect_uri,
            ttl=config.auth_request_ttl,
            binding=binding,
            purpose=purpose,
            return_to=return_to,
            now=now,
            sub=sub,
            submission_id=submission_id,
            claims=claims,
            ui_locales="zh-HK" if lang == "zh-HK" else "en",
        )
        db.commit()
        location = provider.authorization_url(params, secret=secret)
    except NotConfigured:
        db.rollback()
        return error_page(request, 503, NOT_REGISTERED)
    except ProviderError as exc:
        if exc.error:  # the provider refused the pushed request (RFC 9126 §2.3)
            return error_page(request, 502, N_("The identity provider refused this sign-in request."))
        return error_page(request, 502, N_("The identity provider cannot be reached. Try again later."))
    response = RedirectResponse(location, status_code=303)
    set_binding_cookie(response, binding, site.issuer)
    return response


@router.get("/auth/login")
def login(
    request: Request,
    db: DbSession,
    keys: RpKeys,
    provider: Provider,
    site: HubSite,
    config: Config,
    now: Now,
    next: Annotated[str, Query(max_length=500)] = "/forms/my",
) -> Response:
    return start_authorization(
        request, db, keys, provider, site, config, now, purpose=PURPOSE_SIGN_IN, return_to=next
    )


@router.get("/auth/callback")
def callback(
    request: Request,
    visitor: Visitor,
    db: DbSession,
    keys: RpKeys,
    provider: Provider,
    site: HubSite,
    config: Config,
    sealer: AnswerSealer,
    now: Now,
) -> Response:
    params = request.query_params
    if params.get("iss") and params["iss"] != site.issuer:  # RFC 9207 mix-up defence
        return error_page(request, 400, N_("This answer came from another identity provider."))
    try:
        pending = consume(db, keys, params.get("state", ""), request.cookies.get(BINDING_COOKIE), now)
        client_id, secret = client_credentials(db, keys)
    except AuthFlowError as exc:
        db.rollback()
        if visitor is not None:
            return redirect("/forms/my")  # a repeated callback (double click, back button)
        return error_page(request, 400, str(exc))
    except NotConfigured:
        db.rollback()
        return error_page(request, 503, NOT_REGISTERED)
    db.commit()  # the request is used up, whatever the provider answers next
    if params.get("error"):
        if pending.purpose == PURPOSE_PREFILL:
            return redirect(f"/forms/submissions/{pending.submission_id}/edit?notice=prefill_declined")
        return error_page(request, 400, N_("Sign-in was cancelled or refused by the identity provider."))
    try:
        tokens = provider.exchange_code(
            client_id=client_id,
            secret=secret,
            code=params.get("code", "")[:512],
            redirect_uri=site.redirect_uri,
            code_verifier=pending.code_verifier,
        )
        claims = provider.verify_id_token(
            tokens.get("id_token", ""),
            client_id=client_id,
            nonce=pending.nonce,
            access_token=tokens["access_token"],
        )
        userinfo = provider.userinfo(tokens["access_token"]) if pending.purpose == PURPOSE_PREFILL else None
    except InvalidToken:
        return error_page(
            request, 400, N_("The identity provider's answer could not be verified; start again.")
        )
    except ProviderError:
        return error_page(
            request, 502, N_("The identity provider refused or could not complete the sign-in; start again.")
        )
    if pending.purpose == PURPOSE_SIGN_IN:
        cookie = start_session(db, keys, claims, now, config.session_ttl)
        response = redirect(pending.return_to)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(config.session_ttl.total_seconds()),
            path="/forms",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(site.issuer),
        )
        response.delete_cookie(BINDING_COOKIE, path="/forms/auth")
        return response
    sub: str = claims["sub"]
    if sub != pending.sub or (userinfo or {}).get("sub") != pending.sub:
        return error_page(
            request, 400, N_("You signed in as another person than the one filling in this form.")
        )
    level_asked = VERIFIED_CLAIMS in pending.claims
    try:
        submission = submissions.get_own(db, Resident(sub), pending.submission_id or "", now, lock=True)
        doc = document_of(definition_of(db, submission))
        filled = apply_prefill(db, sealer, submission, doc, userinfo or {}, now, level_asked=level_asked)
        if filled or level_asked:  # kept to check the answers and the level again at submission
            store_prefill_tokens(db, keys, submission.id, sub, tokens, pending.claims, now, claims.get("sid"))
    except FormsError as exc:
        db.rollback()
        return failure_page(request, exc)
    edit = f"/forms/submissions/{submission.id}/edit"
    if not level_satisfies(submission.identity_level, doc.min_identity_level):
        return redirect(f"/forms/submissions/{submission.id}/identity-level")
    if filled:
        return redirect(f"{edit}?notice=prefilled")
    notice = "identity_level_confirmed" if doc.min_identity_level else "prefill_empty"
    return redirect(f"{edit}?notice={notice}")


@router.post("/auth/logout")
async def logout(
    request: Request, db: DbSession, keys: RpKeys, provider: Provider, site: HubSite
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    cookie = request.cookies.get(SESSION_COOKIE)

    def work() -> str:
        end_session(db, keys, cookie)
        client_id = own_client_id(db)
        db.commit()  # signed out here, whatever the provider answers
        try:
            endpoint: str | None = provider.metadata().get("end_session_endpoint")
        except ProviderError:
            endpoint = None
        if not endpoint:
            return "/forms/"
        return (
            endpoint
            + "?"
            + urlencode({"client_id": client_id, "post_logout_redirect_uri": f"{site.base_url}/"})
        )

    response = redirect(await in_worker_thread(work))
    response.delete_cookie(SESSION_COOKIE, path="/forms")
    return response
