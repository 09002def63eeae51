"""HTTP surface of the OpenID Provider: discovery, JWKS, authorize, token, userinfo,
revocation, introspection and RP-initiated logout. Handlers parse, call the protocol code in
a worker thread with the request's database session, and shape the response."""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import AccessDeniedError, OAuth2Error
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from identity import metrics
from identity.accounts import repository as accounts_repository
from identity.assurance import IAL_SELF_ASSERTED
from identity.backchannel.delivery import LogoutCourierDep, deliver_after
from identity.clients.service import CIBA_GRANT_TYPE
from identity.devices import repository as devices_repository
from identity.devices.ciba_ping import CibaPingerDep
from identity.devices.service import CIBA_INTERVAL, AppSigninError, start_backchannel
from identity.keys.service import published_jwks
from identity.oidc import discovery, logout, reauthentication
from identity.oidc.adapter import (
    OversizedRequest,
    RequestContext,
    StarletteOAuth2Request,
    current,
    query_params_of,
    read_oauth2_request,
)
from identity.oidc.authorize import (
    ConsentNeeded,
    Decision,
    SignInNeeded,
    Unmet,
    UnmetAuthenticationRequirementsError,
    assurance_step,
    authentication_step,
    consent_step,
    needed_acr,
    parse_parameters,
    sign_in_location,
)
from identity.oidc.provider import OpenIDProvider, ProviderDep, client_call
from identity.oidc.schemas import (
    AUTHORIZATION_BODY,
    AUTHORIZATION_QUERY,
    BACKCHANNEL_BODY,
    INTROSPECTION_BODY,
    LOGOUT_BODY,
    LOGOUT_QUERY,
    PUSHED_AUTHORIZATION_BODY,
    REVOCATION_BODY,
    TOKEN_REQUEST_BODY,
    USERINFO_BODY,
    BackchannelAuthenticationResponse,
    IntrospectionResponse,
    JsonWebKeySet,
    ProviderMetadata,
    PushedAuthorizationResponse,
    TokenResponse,
    UserInfo,
)
from identity.oidc.server import CONFIDENTIAL_AUTH_METHODS
from identity.oidc.userinfo import REALM as USERINFO_REALM
from identity.oidc.userinfo import userinfo_response
from identity.sessions.service import SignedInSession, current_session
from identity.signin.flows import step_up_route
from identity.throttling import credentials
from identity.throttling.dependencies import ClientAddress
from identity.web import verify_csrf
from kit.bearer import INVALID_REQUEST, form_body_tokens, oauth_error_response, presented_token
from kit.database_work import run_database_work
from kit.dpop import Presentation, public_url
from kit.i18n import CATALOGUES, CHINESE, N_
from kit.openapi import combine, oauth_error_responses, page_responses, redirect_responses
from kit.web import DbSession, Now

router = APIRouter(tags=["openid-connect"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# What the OpenAPI document says each kind of endpoint answers besides its success.
BROWSER_PAGE = "The consent page, or the form_post page that carries the result to the client"
BROWSER_ANSWERS = combine(
    redirect_responses(302, 303),  # to the client's redirect URI; to sign-in
    page_responses(400),  # no verified redirect URI to send the error to (RFC 6749 §4.1.2.1)
)
LOGOUT_ANSWERS = combine(redirect_responses(303), page_responses(400))
# RFC 6749 §5.2: invalid_client is a 401 with a challenge; every other refusal a 400; a
# client (or network) that failed to authenticate too often waits (429, Retry-After).
CLIENT_REFUSALS = oauth_error_responses(400, 401, 429, challenge=True)
# RFC 6750 §3 (OpenID Connect Core §5.3.3).
TOKEN_REFUSALS = oauth_error_responses(400, 401, 403, challenge=True)
QUERY_TOKEN_REFUSED = (
    "The access token is not taken from the query string (RFC 6750 section 2.3): send it in "
    "the Authorization header or as access_token in a form-encoded POST body."
)
TOKEN_TWICE = (
    "Send the access token once: in the Authorization header or in the form body (RFC 6750 section 2)."
)


async def _in_context(
    request: Request,
    db: Session,
    now: datetime,
    work: Callable[[], Response],
    *,
    commit: bool = False,
    reads_first: bool = False,
) -> Response:
    """Run the protocol work with the request's unit of work (``DbSession``, committed before
    the response leaves) and time in the context Authlib's callbacks read; on the event loop's
    thread or in a worker thread, as ``kit.database_work`` decides.

    ``commit``: the work is the whole of the request's unit of work, so it commits in the
    same thread as soon as it is done. On SQLite every transaction holds the process's
    writer gate (kit/db.py) from its first statement to its commit; committing here rather
    than in the dependency's teardown (another hop through the event loop and the thread
    pool) keeps the gate for the work only. Nothing is answered before the commit either way,
    and an exception still rolls everything back.

    ``reads_first`` (with ``commit``): the work writes nothing but inserts when it succeeds
    (a disclosure queued in the ledger, a client's token); on SQLite its reads then hold no
    write lock (``kit.reads_first``), so that ``egate serve --workers N`` answers them side
    by side."""
    request_id = request.scope.get("state", {}).get("request_id")

    def run() -> Response:
        token = current.set(RequestContext(db=db, now=now, request_id=request_id))
        try:
            return work()
        finally:
            current.reset(token)

    return await run_database_work(db, run, commit=commit, reads_first=reads_first)


@router.get("/.well-known/openid-configuration", response_model=ProviderMetadata)
async def openid_configuration(provider: ProviderDep) -> JSONResponse:
    settings = provider.settings
    return JSONResponse(discovery.metadata(settings.issuer, require_par=settings.require_par))


@router.get("/.well-known/oauth-authorization-server", response_model=ProviderMetadata)
async def authorization_server_metadata(provider: ProviderDep) -> JSONResponse:
    """RFC 8414 §3: the same document, for OAuth clients that look here (openid-client with
    ``algorithm: 'oauth2'``, RFC 8414 libraries); its ``issuer`` is the same (§3.3)."""
    settings = provider.settings
    return JSONResponse(discovery.metadata(settings.issuer, require_par=settings.require_par))


@router.get("/jwks", response_model=JsonWebKeySet)
def jwks(db: DbSession, now: Now, provider: ProviderDep) -> JSONResponse:
    provider.keys.signing_key(db, "ES256")  # creates the keys on first start
    return JSONResponse(
        published_jwks(db, now),
        headers={"Cache-Control": "public, max-age=60"},
    )


def error_page(status: int, title: str, detail: str) -> HTMLResponse:
    """A request that cannot go back to the department: ``title`` (a msgid) in both languages,
    as the request's language may be unknown here; ``detail`` is the protocol's, in English."""
    english, chinese = html.escape(title), html.escape(CATALOGUES.gettext(CHINESE, title))
    body = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{english}</title>"
        f"</head><body><main><h1>{english}</h1><p lang='zh-Hant-HK'>{chinese}</p>"
        f"<p><code>{html.escape(detail)}</code></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def respond_to_client(location: str, response_mode: str) -> Response:
    """Deliver a result to the client's redirect URI: query string, or form_post (OAuth 2.0
    Form Post Response Mode) as an auto-submitting form."""
    if response_mode != "form_post":
        return RedirectResponse(location, status_code=302, headers=NO_STORE)
    target = location.split("?", 1)[0]
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query_params_of(location).multi_items()
    )
    nonce = secrets.token_urlsafe(16)
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Continue</title></head>"
        f'<body><form method="post" action="{html.escape(target)}">{fields}'
        "<noscript><button type='submit'>Continue</button></noscript></form>"
        f"<script nonce='{nonce}'>document.forms[0].submit()</script></body></html>"
    )
    policy = f"default-src 'none'; script-src 'nonce-{nonce}'; form-action {target}"
    return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": policy})


def authorization_error(error: OAuth2Error, oauth_req: StarletteOAuth2Request, issuer: str) -> Response:
    if not error.redirect_uri:
        # RFC 6749 §4.1.2.1: without a verified redirect URI, never redirect.
        return error_page(
            400,
            N_("This sign-in request cannot be processed"),
            f"{error.error}: {error.description or ''}",
        )
    params = {"error": error.error}
    if error.description:
        params["error_description"] = error.description
    if oauth_req.payload.data.get("state"):
        params["state"] = oauth_req.payload.data["state"]
    params["iss"] = issuer  # RFC 9207
    separator = "&" if "?" in error.redirect_uri else "?"
    mode = oauth_req.payload.data.get("response_mode", "query")
    return respond_to_client(
        error.redirect_uri + separator + urlencode(params), mode if mode == "form_post" else "query"
    )


def _authorize(
    provider: OpenIDProvider,
    request: Request,
    oauth_req: StarletteOAuth2Request,
    consent_answer: dict[str, Any] | None,
) -> Response:
    ctx = current.get()
    now = ctx.now
    session = current_session(ctx.db, request, provider.session_policy, now)
    try:
        provider.requests.resolve(provider.server, oauth_req)  # PAR, JAR (oidc/par.py)
        grant = provider.server.get_consent_grant(oauth_req, end_user=session)
        redirect_uri = oauth_req.payload.data["redirect_uri"]
        params = parse_parameters(oauth_req.payload.data, redirect_uri)
        client = grant.client.row if grant.client else oauth_req.client.row
        required_acr = needed_acr(params.required_acr, client.min_acr)
        demand = reauthentication.pending_demand(ctx.db, oauth_req.payload.data, now)
        demanded_at = demand.demanded_at if demand is not None else None
        step = authentication_step(params, session, now, redirect_uri, demanded_at, required_acr)
        if isinstance(step, SignInNeeded):
            return _to_sign_in(ctx, oauth_req, step, keep_handle=demand is not None)
        assured = assurance_step(
            params,
            step,
            client,
            lambda: _identity_level(ctx, step),
            required_acr,
            lambda acr: step_up_route(ctx.db, step, acr),
            redirect_uri,
        )
        if isinstance(assured, SignInNeeded):
            # A step-up after a demanded sign-in keeps the demand's handle: the browser comes
            # back to the same request, which the new sign-in then satisfies.
            return _to_sign_in(ctx, oauth_req, assured, keep_handle=demand is not None)
        if isinstance(assured, Unmet):
            return provider.unmet_page(request, oauth_req, client, assured)
        session = assured
        account_id = session.account_id
        outcome = consent_step(
            ctx,
            provider.consent,
            client,
            account_id,
            oauth_req.scope or "",
            params,
            redirect_uri,
            lambda: provider.release.verification(ctx, account_id),
        )
        granted: tuple[str, ...]
        grant_id: str | None
        if isinstance(outcome, ConsentNeeded):
            if consent_answer is None:
                return provider.consent_page(request, oauth_req, outcome)
            if not consent_answer["approve"]:
                raise AccessDeniedError(redirect_uri=redirect_uri)
            grant_id = provider.consent.record_grant(
                ctx.db,
                outcome.request,
                remember=consent_answer["remember"],
                given_via="consent-page",
                now=now,
            )
            granted = outcome.request.fields
        else:
            granted, grant_id = outcome
        decision = Decision(
            account_id=session.account_id,
            session_id=session.id,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=tuple(session.amr),
            granted_claims=tuple(granted),
            grant_id=grant_id,
            claims_request=params.claims_request,
        )
        if demand is not None and not reauthentication.spend(ctx.db, demand, now):
            # A concurrent request with the same handle got the code: this one signs in again.
            return _to_sign_in(ctx, oauth_req, SignInNeeded(required_acr, force=True), keep_handle=False)
        oauth_req.user = decision
        response: Response = provider.server.create_authorization_response(
            oauth_req, grant_user=decision, grant=grant
        )
        location = response.headers.get("location", "")
        if response.status_code == 302 and "code=" in location:
            location += "&" + urlencode({"iss": provider.settings.issuer})  # RFC 9207
            return respond_to_client(location, params.response_mode)
        return response
    except OAuth2Error as error:
        return authorization_error(error, oauth_req, provider.settings.issuer)


def _identity_level(ctx: RequestContext, session: SignedInSession) -> str:
    account = accounts_repository.get(ctx.db, session.account_id)
    return account.identity_level if account is not None else IAL_SELF_ASSERTED


def _to_sign_in(
    ctx: RequestContext, oauth_req: StarletteOAuth2Request, step: SignInNeeded, *, keep_handle: bool
) -> Response:
    """``keep_handle``: the request carries a live demand's handle (a step-up after the
    demanded sign-in), which the browser must bring back."""
    data = oauth_req.payload.data
    if step.force or step.select_account:
        handle: str | None = reauthentication.demand(ctx.db, data, ctx.now)
    else:
        handle = data.get(reauthentication.RESUME_PARAM) if keep_handle else None
    location = sign_in_location(reauthentication.without_handle(oauth_req.front_channel), step, handle)
    return RedirectResponse(location, status_code=303)


@router.get(
    "/authorize",
    operation_id="authorize_get",
    response_class=HTMLResponse,
    response_description=BROWSER_PAGE,
    responses=BROWSER_ANSWERS,
    openapi_extra=AUTHORIZATION_QUERY,
)
@router.post(
    "/authorize",
    operation_id="authorize_post",
    response_class=HTMLResponse,
    response_description=BROWSER_PAGE,
    responses=BROWSER_ANSWERS,
    openapi_extra=AUTHORIZATION_BODY,
)
async def authorize(request: Request, db: DbSession, now: Now, provider: ProviderDep) -> Response:
    try:
        oauth_req = await read_oauth2_request(request, provider.settings.issuer)
    except OversizedRequest as exc:
        return error_page(400, N_("This sign-in request is too large"), str(exc))
    return await _in_context(request, db, now, lambda: _authorize(provider, request, oauth_req, None))


def _replayed(request: Request, original: str) -> Request:
    """The authorization request a page carried in its form, as the GET it was."""
    scope = dict(request.scope)
    scope["method"], scope["query_string"] = "GET", original.encode()
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    return Request(scope)


@router.post("/authorize/consent", include_in_schema=False)
async def authorize_consent(request: Request, db: DbSession, now: Now, provider: ProviderDep) -> Response:
    """The resident's answer on the consent page; the original request is re-validated."""
    form = await request.form(max_files=0, max_fields=64)
    verify_csrf(request, form)
    replay = _replayed(request, str(form.get("authorization_request", "")))
    try:
        oauth_req = StarletteOAuth2Request(replay, None, provider.settings.issuer)
    except OversizedRequest as exc:
        return error_page(400, N_("This sign-in request is too large"), str(exc))
    answer = {
        "approve": form.get("decision") == "approve",
        "remember": form.get("remember") == "yes",
    }
    return await _in_context(request, db, now, lambda: _authorize(provider, replay, oauth_req, answer))


@router.post("/authorize/unmet", include_in_schema=False)
async def authorize_unmet(request: Request, db: DbSession, now: Now, provider: ProviderDep) -> Response:
    """The way back to the department from the page explaining an unmet requirement: the
    original request is re-validated (client, exact redirect URI) and the department gets
    ``unmet_authentication_requirements`` with its ``state`` and our ``iss``."""
    form = await request.form(max_files=0, max_fields=16)
    verify_csrf(request, form)
    replay = _replayed(request, str(form.get("authorization_request", "")))
    try:
        oauth_req = StarletteOAuth2Request(replay, None, provider.settings.issuer)
    except OversizedRequest as exc:
        return error_page(400, N_("This sign-in request is too large"), str(exc))

    def run() -> Response:
        try:
            provider.server.get_consent_grant(oauth_req, end_user=None)
            raise UnmetAuthenticationRequirementsError(
                "The resident does not meet the client's authentication requirements.",
                redirect_uri=oauth_req.payload.data["redirect_uri"],
            )
        except OAuth2Error as error:
            return authorization_error(error, oauth_req, provider.settings.issuer)

    return await _in_context(request, db, now, run)


TokenWork = Callable[[OpenIDProvider, StarletteOAuth2Request], Response]


def _never(_: StarletteOAuth2Request) -> bool:
    return False


async def _token_like(
    request: Request, work: TokenWork, reads_first: Callable[[StarletteOAuth2Request], bool] = _never
) -> Response:
    """``reads_first``: whether the request's work, when it succeeds, writes nothing but
    inserts (``_in_context``)."""
    async with client_call(request) as call:
        db, now, provider = call.db, call.now, call.provider
        try:
            oauth_req = await read_oauth2_request(request, provider.settings.issuer)
        except OversizedRequest as exc:
            return JSONResponse(
                {"error": "invalid_request", "error_description": str(exc)}, 400, headers=NO_STORE
            )
        return await _in_context(
            request,
            db,
            now,
            lambda: _throttled(db, now, call.address, oauth_req, lambda: work(provider, oauth_req)),
            commit=True,
            reads_first=reads_first(oauth_req),
        )


def _throttled(
    db: Session,
    now: datetime,
    address: str | None,
    oauth_req: StarletteOAuth2Request,
    attempt: Callable[[], Response],
) -> Response:
    """Client authentication under the guessing defence (identity/throttling/credentials.py)."""
    client_id = credentials.presented_client_id(oauth_req.headers, oauth_req.form)

    def refused(until: datetime) -> Response:
        body = {"error": "invalid_client", "error_description": credentials.INVALID_CLIENT_DESCRIPTION}
        headers = {**NO_STORE, "Retry-After": credentials.retry_after(until, now)}
        return JSONResponse(body, 429, headers=headers)

    return credentials.guarded(
        db,
        now,
        address,
        credentials.client_credential(client_id),
        attempt,
        failed=_client_authentication_failed,
        refused=refused,
    )


@router.post(
    "/token",
    response_model=TokenResponse,
    responses=CLIENT_REFUSALS,
    openapi_extra=TOKEN_REQUEST_BODY,
)
async def token(request: Request) -> Response:
    grant_type: list[object] = [None]

    def issue(provider: OpenIDProvider, oauth_req: StarletteOAuth2Request) -> Response:
        grant_type[0] = oauth_req.form.get("grant_type")
        refused = provider.dpop.accept(oauth_req, "/token")  # RFC 9449 §5
        if refused is not None:
            return refused
        current.get().resources = tuple(oauth_req.payload.datalist.get("resource") or ())  # RFC 8707
        response = _with_auth_challenge(provider.server.create_token_response(oauth_req))
        return provider.dpop.with_nonce(response) if current.get().dpop_jkt else response

    response = await _token_like(request, issue, _issues_only_new_tokens)
    metrics.count_token_response(grant_type[0], response.status_code, getattr(response, "body", b""))
    return response


def _issues_only_new_tokens(oauth_req: StarletteOAuth2Request) -> bool:
    """A client_credentials grant inserts its token and changes nothing (the code and refresh
    grants spend what they are given: their UPDATE must see it as read)."""
    return oauth_req.form.get("grant_type") == "client_credentials"


@router.post(
    "/revoke",
    response_model=dict[str, Any],
    response_description="Revoked, or the token was unknown (RFC 7009 §2.2)",
    responses=CLIENT_REFUSALS,
    openapi_extra=REVOCATION_BODY,
)
async def revoke(request: Request) -> Response:
    def run(provider: OpenIDProvider, oauth_req: StarletteOAuth2Request) -> Response:
        return _with_auth_challenge(provider.server.create_endpoint_response("revocation", oauth_req))

    return await _token_like(request, run)


@router.post(
    "/introspect",
    response_model=IntrospectionResponse,
    responses=CLIENT_REFUSALS,
    openapi_extra=INTROSPECTION_BODY,
)
async def introspect(request: Request) -> Response:
    def run(provider: OpenIDProvider, oauth_req: StarletteOAuth2Request) -> Response:
        return _with_auth_challenge(provider.server.create_endpoint_response("introspection", oauth_req))

    return await _token_like(request, run, reads_first=lambda _: True)  # it inserts a disclosure


def _with_auth_challenge(response: Response) -> Response:
    """RFC 6749 §5.2: invalid_client is shaped by ``Provider.handle_error_response`` (401
    with a ``Basic`` challenge for a client that tried Basic, else 400); every other error
    is a 400 (Authlib answers unsupported_token_type with a 401 that carries no challenge)."""
    if response.status_code == 401 and "www-authenticate" not in response.headers:
        response.status_code = 400
    response.headers.update(NO_STORE)
    return response


def _client_authentication_failed(response: Response) -> bool:
    """Whether the answer refused the client's credentials (what the guessing defence counts)."""
    if response.status_code == 401:
        return True
    if response.status_code != 400 or not isinstance(response.body, bytes):
        return False
    try:
        body = json.loads(response.body)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_client"


@router.get("/userinfo", operation_id="userinfo_get", response_model=UserInfo, responses=TOKEN_REFUSALS)
@router.post(
    "/userinfo",
    operation_id="userinfo_post",
    response_model=UserInfo,
    responses=TOKEN_REFUSALS,
    openapi_extra=USERINFO_BODY,
)
async def userinfo(request: Request) -> Response:
    """The token in the ``Authorization`` header (Bearer or DPoP), or in a form-encoded POST
    body (RFC 6750 §2.2, OIDC Core §5.3.1: pyoidc's default); once, and never in the query."""
    async with client_call(request) as call:
        db, now, provider = call.db, call.now, call.provider
        presented = presented_token(request, provider.settings.issuer)
        if "access_token" in request.query_params:
            return oauth_error_response(400, INVALID_REQUEST, QUERY_TOKEN_REFUSED, realm=USERINFO_REALM)
        in_body = await form_body_tokens(request)
        if len(in_body) + (presented is not None) > 1:
            return oauth_error_response(400, INVALID_REQUEST, TOKEN_TWICE, realm=USERINFO_REALM)
        if in_body:
            url = public_url(provider.settings.issuer, request.url.path)
            presented = (in_body[0], Presentation(scheme="bearer", proof=None, method="POST", url=url))
        return await _in_context(
            request, db, now, lambda: userinfo_response(provider, presented), commit=True, reads_first=True
        )


@router.get(
    "/logout",
    operation_id="logout_get",
    response_class=HTMLResponse,
    response_description="Signed out",
    responses=LOGOUT_ANSWERS,
    openapi_extra=LOGOUT_QUERY,
)
@router.post(
    "/logout",
    operation_id="logout_post",
    response_class=HTMLResponse,
    response_description="Signed out",
    responses=LOGOUT_ANSWERS,
    openapi_extra=LOGOUT_BODY,
)
async def end_session(
    request: Request, db: DbSession, now: Now, provider: ProviderDep, logouts: LogoutCourierDep
) -> Response:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=16)
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    response = await _in_context(request, db, now, lambda: logout.end_session(provider, request, params))
    return deliver_after(response, logouts)


@router.post(
    "/bc-authorize",
    response_model=BackchannelAuthenticationResponse,
    responses=CLIENT_REFUSALS,
    openapi_extra=BACKCHANNEL_BODY,
)
async def backchannel_authentication(
    request: Request,
    db: DbSession,
    now: Now,
    provider: ProviderDep,
    address: ClientAddress,
    pinger: CibaPingerDep,
) -> Response:
    """OpenID Connect CIBA §7 (poll and ping modes). The department authenticates as at the
    token endpoint and names the resident by the ``sub`` it already received (``login_hint``)."""
    try:
        oauth_req = await read_oauth2_request(request, provider.settings.issuer)
    except OversizedRequest as exc:
        return JSONResponse(
            {"error": "invalid_request", "error_description": str(exc)}, 400, headers=NO_STORE
        )

    def run() -> Response:
        ctx = current.get()
        try:
            client = provider.server.authenticate_client(oauth_req, CONFIDENTIAL_AUTH_METHODS, "token")
        except OAuth2Error as error:
            return _with_auth_challenge(provider.server.handle_error_response(oauth_req, error))
        if not client.check_grant_type(CIBA_GRANT_TYPE):
            body = {"error": "unauthorized_client", "error_description": "CIBA is not registered"}
            return JSONResponse(body, 400, headers=NO_STORE)
        form = oauth_req.form
        expiry = form.get("requested_expiry")
        try:
            auth_req_id, signin = start_backchannel(
                ctx.db,
                ctx.now,
                client=client.row,
                scope=client.get_allowed_scope(form.get("scope", "")),
                login_hint=form.get("login_hint"),
                binding_message=form.get("binding_message"),
                requested_expiry=int(expiry) if expiry and expiry.isdigit() else None,
                client_notification_token=form.get("client_notification_token"),
                pings=pinger.sealer,
            )
        except AppSigninError as exc:
            return JSONResponse({"error": exc.code, "error_description": str(exc)}, 400, headers=NO_STORE)
        expires_in = int((signin.expires_at - signin.created_at).total_seconds())
        started: dict[str, str | int] = {
            "auth_req_id": auth_req_id,
            "expires_in": expires_in,
            "interval": CIBA_INTERVAL,
        }
        return JSONResponse(started, headers=NO_STORE)

    return await _in_context(request, db, now, lambda: _throttled(db, now, address, oauth_req, run))


@router.get("/authorize/app-denied", include_in_schema=False)
async def app_denied(request: Request, rid: str, db: DbSession, now: Now, provider: ProviderDep) -> Response:
    """The resident denied (or let expire) an app sign-in started from an authorization
    request: the department gets ``access_denied`` at its verified redirect URI."""

    def run() -> Response:
        ctx = current.get()
        signin = devices_repository.get_signin(ctx.db, rid[:32])
        if signin is None or signin.kind != "browser" or signin.status not in ("denied", "expired"):
            return error_page(
                400, N_("This sign-in request cannot be processed"), "unknown or unanswered request"
            )
        scope = dict(request.scope)
        scope["query_string"] = (signin.next_path or "").partition("?")[2].encode()
        replay = Request(scope)
        oauth_req = StarletteOAuth2Request(replay, None, provider.settings.issuer)
        try:
            provider.requests.resolve(provider.server, oauth_req)
            provider.server.get_consent_grant(oauth_req, end_user=None)
            raise AccessDeniedError(redirect_uri=oauth_req.payload.data["redirect_uri"])
        except OAuth2Error as error:
            return authorization_error(error, oauth_req, provider.settings.issuer)

    return await _in_context(request, db, now, run)


@router.post(
    "/par",
    status_code=201,
    response_model=PushedAuthorizationResponse,
    responses=CLIENT_REFUSALS,
    openapi_extra=PUSHED_AUTHORIZATION_BODY,
)
async def pushed_authorization_request(request: Request) -> Response:
    """RFC 9126 §2: the client authenticates as at the token endpoint and pushes its
    authorization request; the answer's ``request_uri`` stands for it at /authorize."""

    def run(provider: OpenIDProvider, oauth_req: StarletteOAuth2Request) -> Response:
        refused = provider.dpop.accept(oauth_req, "/par")  # RFC 9449 §10.1
        if refused is not None:
            return refused
        try:
            methods = [*CONFIDENTIAL_AUTH_METHODS, "none"]
            client = provider.server.authenticate_client(oauth_req, methods, "par")
            body = provider.requests.push(provider.server, oauth_req, client)
        except OAuth2Error as error:
            response = _with_auth_challenge(provider.server.handle_error_response(oauth_req, error))
        else:
            response = JSONResponse(body, 201, headers=NO_STORE)
        return provider.dpop.with_nonce(response) if current.get().dpop_jkt else response

    return await _token_like(request, run)
