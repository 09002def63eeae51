"""HTTP surface of app sign-in: the browser's QR / app-to-app page, the app's API (binding,
signed views and decisions, pending approvals) and the residents' device list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Request
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from identity.accounts.dependencies import Meta
from identity.accounts.service import RequestMeta
from identity.backchannel.delivery import LogoutCourierDep, deliver_after
from identity.clients.service import get_client
from identity.dependencies import IdentitySettings
from identity.devices import repository, service
from identity.devices.ciba_ping import CibaPingerDep
from identity.devices.schemas import BoundDevice, DeviceOut, SigninDecision, SigninRequestOut
from identity.devices.signatures import DeviceSignatureError, SignedRequest, verify_device_request
from identity.sessions.dependencies import OptionalSession, SessionPolicyDep
from identity.sessions.service import SessionPolicy, set_session_cookie
from identity.tokens import repository as tokens_repository
from identity.tokens.models import IssuedToken
from identity.tokens.verifier import verify_own_access_token
from identity.web import render
from identity.web.forms import CheckedForm, safe_next
from kit.bearer import INVALID_TOKEN, BearerProblem, bearer_token
from kit.i18n import CATALOGUES, N_, choose_language
from kit.openapi import combine, problem_responses
from kit.problems import PROBLEM_JSON
from kit.web import DbSession, Now

router = APIRouter(tags=["app sign-in"])
# _app_token's refusal: RFC 6750 §3 in problem+json, with the challenge.
APP_TOKEN_REFUSALS = problem_responses(401, challenge=True)
APP_SCOPE = "app:device"
REFRESH_SECONDS = 2


def problem(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"urn:egate:app:{code}",
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store"},
    )


def open_link(issuer: str, request_id: str) -> str:
    """The universal-link-shaped URL in the QR code and behind the "open the app" button."""
    return f"{issuer}/app/open?rid={request_id}"


# -- the browser ------------------------------------------------------------------------------


@router.post("/signin/app/start", include_in_schema=False)
def start(form: CheckedForm, db: DbSession, now: Now, policy: SessionPolicyDep) -> Response:
    next_path = safe_next(str(form.get("next") or ""))
    signin, browser_token = service.start_browser_signin(db, now, next_path)
    response = RedirectResponse(f"/signin/app?rid={signin.id}", status_code=303)
    response.set_cookie(
        service.BROWSER_COOKIE,
        browser_token,
        max_age=int(service.BROWSER_SIGNIN_TTL.total_seconds()) + 60,
        path="/signin/app",
        httponly=True,
        samesite="lax",
        secure=policy.secure_cookie,
    )
    return response


def _outcome(
    request: Request, db: Session, policy: SessionPolicy, now: datetime, rid: str
) -> service.BrowserOutcome:
    return service.browser_outcome(db, policy, now, rid, request.cookies.get(service.BROWSER_COOKIE))


@router.get("/signin/app", include_in_schema=False)
def waiting_page(
    request: Request,
    rid: str,
    db: DbSession,
    now: Now,
    policy: SessionPolicyDep,
    settings: IdentitySettings,
) -> Response:
    """Shows the QR code and the short code; reloads itself every few seconds (no script:
    the pages' CSP allows none) and moves on once the app has answered."""
    try:
        outcome = _outcome(request, db, policy, now, rid)
    except service.AppSigninError:
        return render(request, "error.html", {"title_code": "app.unknown", "detail_code": "app.unknown"}, 404)
    if outcome.status == "pending":
        signin = repository.get_signin(db, rid)
        assert signin is not None  # browser_outcome found it
        link = open_link(settings.issuer, rid)
        language = choose_language(request)
        title = CATALOGUES.gettext(language, N_("QR code for the e-Gateway app"))
        qr = segno.make(link, error="m").svg_inline(scale=5, title=title)
        client = get_client(db, signin.client_id) if signin.client_id else None
        response = render(
            request,
            "devices/app_signin.html",
            {
                "qr_svg": Markup(qr),  # noqa: S704 - SVG made by segno, which escapes the link
                "code": signin.short_code,
                "link": link,
                "client_name": signin.client_name,
                "client_name_zh": (client.name_zh if client else None) or signin.client_name,
                "department": signin.department,
            },
        )
        response.headers["refresh"] = str(REFRESH_SECONDS)
        return response
    return _finish(outcome, policy)


def _finish(outcome: service.BrowserOutcome, policy: SessionPolicy) -> Response:
    response = RedirectResponse(outcome.location or "/account", status_code=303)
    if outcome.session_cookie:
        set_session_cookie(response, policy, outcome.session_cookie)
        response.delete_cookie(service.BROWSER_COOKIE, path="/signin/app")
    return response


@router.get("/signin/app/status", include_in_schema=False)
def status(request: Request, rid: str, db: DbSession, now: Now, policy: SessionPolicyDep) -> Response:
    try:
        outcome = _outcome(request, db, policy, now, rid)
    except service.AppSigninError as exc:
        return problem(404, exc.code, str(exc))
    response = JSONResponse({"status": outcome.status, "location": outcome.location})
    if outcome.session_cookie:
        set_session_cookie(response, policy, outcome.session_cookie)
    return response


@router.get("/app/open", include_in_schema=False)
def open_in_app(request: Request, rid: str, settings: IdentitySettings) -> Response:
    """Where the universal link lands when the app is not installed on this device."""
    return render(request, "devices/open_app.html", {"link": open_link(settings.issuer, rid)})


# -- the app's API ----------------------------------------------------------------------------


def _app_token(request: Request, db: Session, issuer: str, now: datetime) -> IssuedToken | Response:
    """The live access token of the e-Gateway app (a first-party client, scope app:device)
    the request carries, or the RFC 6750 §3 refusal to answer with."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return _refused(None)
    claims = verify_own_access_token(db, token, issuer=issuer, now=now)
    row = tokens_repository.get(db, claims["jti"]) if claims else None
    if row is None or row.revoked_at is not None or row.account_id is None:
        return _refused(INVALID_TOKEN)
    client = get_client(db, row.client_id)
    if client is None or not client.first_party or APP_SCOPE not in row.scope.split():
        return _refused(INVALID_TOKEN)
    return row


def _refused(error: str | None) -> Response:
    detail = f"An access token of the e-Gateway app with scope {APP_SCOPE} is required."
    response = BearerProblem(401, error, detail, scope=APP_SCOPE).response()
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    "/app/devices",
    status_code=201,
    response_model=BoundDevice,
    responses=combine(APP_TOKEN_REFUSALS, problem_responses(400)),
)
def bind(
    request: Request,
    db: DbSession,
    now: Now,
    settings: IdentitySettings,
    meta: Meta,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    token = _app_token(request, db, settings.issuer, now)
    if isinstance(token, Response):
        return token
    assert token.account_id is not None  # _app_token refuses tokens without an account
    try:
        device = service.bind_device(
            db,
            now,
            account_id=token.account_id,
            name=str(body.get("name", "")),
            public_jwk=body.get("public_jwk"),
            session_id=token.session_id,
            meta=meta,
        )
    except service.AppSigninError as exc:
        return problem(400, exc.code, str(exc))
    return JSONResponse({"device_id": device.id, "name": device.name}, status_code=201)


@router.get("/app/devices", response_model=list[DeviceOut], responses=APP_TOKEN_REFUSALS)
def devices(request: Request, db: DbSession, now: Now, settings: IdentitySettings) -> Response:
    token = _app_token(request, db, settings.issuer, now)
    if isinstance(token, Response):
        return token
    assert token.account_id is not None  # _app_token refuses tokens without an account
    return JSONResponse(
        [
            {"device_id": d.id, "name": d.name, "created_at": d.created_at.isoformat()}
            for d in service.list_devices(db, token.account_id)
        ]
    )


def _signed(db: Session, issuer: str, now: datetime, body: dict[str, Any], action: str) -> SignedRequest:
    return verify_device_request(db, str(body.get("signed", "")), issuer=issuer, action=action, now=now)


@router.post(
    "/app/requests/{rid}/view", response_model=SigninRequestOut, responses=problem_responses(401, 404, 409)
)
def view(
    rid: str, db: DbSession, now: Now, settings: IdentitySettings, body: Annotated[dict[str, Any], Body()]
) -> Response:
    try:
        signed = _signed(db, settings.issuer, now, body, "view")
        if signed.claims.get("rid") != rid:
            raise service.AppSigninError("invalid_request", "signed for another request")
        signin = service.load_open_request(db, now, rid)
        if signin.kind == "ciba" and signin.target_account_id != signed.device.account_id:
            raise service.AppSigninError("wrong_device", "this request is for another resident's device")
    except DeviceSignatureError as exc:
        return problem(401, "invalid_signature", str(exc))
    except service.AppSigninError as exc:
        return problem(404 if exc.code == "not_found" else 409, exc.code, str(exc))
    return JSONResponse(service.describe(signin))


@router.post(
    "/app/requests/{rid}/decision",
    response_model=SigninDecision,
    responses=problem_responses(400, 401, 404, 409),
)
def decision(
    rid: str,
    db: DbSession,
    now: Now,
    settings: IdentitySettings,
    body: Annotated[dict[str, Any], Body()],
    pinger: CibaPingerDep,
) -> Response:
    meta = RequestMeta.of(None, "e-Gateway app")
    try:
        action = str(body.get("decision", ""))
        if action not in ("approve", "deny"):
            raise service.AppSigninError("invalid_request", "decision must be approve or deny")
        signed = _signed(db, settings.issuer, now, body, action)
        if signed.claims.get("rid") != rid:
            raise service.AppSigninError("invalid_request", "signed for another request")
        signin = service.decide(db, now, signed, approve=action == "approve", meta=meta)
    except DeviceSignatureError as exc:
        return problem(401, "invalid_signature", str(exc))
    except service.AppSigninError as exc:
        status_code = {"not_found": 404, "invalid_request": 400}.get(exc.code, 409)
        return problem(status_code, exc.code, str(exc))
    pinged = pinger.after_response(signin.id) if signin.ping_sealed else None
    return JSONResponse({"status": signin.status}, background=pinged)


@router.post("/app/approvals", response_model=list[SigninRequestOut], responses=problem_responses(401))
def approvals(
    db: DbSession, now: Now, settings: IdentitySettings, body: Annotated[dict[str, Any], Body()]
) -> Response:
    try:
        signed = _signed(db, settings.issuer, now, body, "list")
    except DeviceSignatureError as exc:
        return problem(401, "invalid_signature", str(exc))
    return JSONResponse([service.describe(s) for s in service.pending_for_device(db, now, signed.device)])


# -- the resident's device list ---------------------------------------------------------------


@router.get("/account/devices", include_in_schema=False)
def device_page(request: Request, db: DbSession, session: OptionalSession) -> Response:
    if session is None:
        return RedirectResponse("/signin?next=/account/devices", status_code=303)
    return render(
        request,
        "account/devices.html",
        {"signed_in": True, "devices": service.list_devices(db, session.account_id)},
    )


@router.post("/account/devices/{device_id}/remove", include_in_schema=False)
def remove_from_page(
    device_id: str,
    form: CheckedForm,
    db: DbSession,
    now: Now,
    session: OptionalSession,
    meta: Meta,
    logouts: LogoutCourierDep,
) -> Response:
    if session is None:
        return RedirectResponse("/signin?next=/account/devices", status_code=303)
    service.remove_device(db, now, account_id=session.account_id, device_id=device_id, meta=meta)
    return deliver_after(RedirectResponse("/account/devices", status_code=303), logouts)
