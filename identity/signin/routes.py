"""Sign-in, second factor, step-up and sign-out pages.

``GET /signin?next=&acr=&prompt=login|select_account&login_hint=&ui_locales=`` is the entry
point the OpenID Provider sends browsers to; after success the browser goes back to ``next``
(a path on this site, see identity.web.forms.safe_next) with a 303. With
``prompt=select_account`` a signed-in browser is shown its account, to continue with (a link
back to ``next``), and the form to sign in with another account instead.

A browser already signed in below ``acr`` is stepped up: its second factor, or the app
(a page whose button starts the app sign-in); when neither can reach ``acr`` it goes back to
``next`` at once, where the provider explains (identity/oidc/authorize.py): never a loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import Meta
from identity.accounts.service import RequestMeta
from identity.assurance import ACR_DEVICE
from identity.backchannel.delivery import LogoutCourierDep, deliver_after
from identity.backchannel.service import SIGNED_OUT, announce_logout
from identity.dependencies import KeyringDep, MasterKey
from identity.messaging.delivery import Courier, CourierDep
from identity.security.hashing import PooledHasher
from identity.security.keyring import Keyring
from identity.sessions.dependencies import OptionalSession, SessionPolicyDep
from identity.sessions.service import (
    SessionPolicy,
    clear_session_cookie,
    current_session,
    end_session,
    set_session_cookie,
)
from identity.signin import flows
from identity.throttling import known_device
from identity.throttling.dependencies import ClientAddress
from identity.web import render
from identity.web.forms import CheckedForm, checked_form, notice_from, safe_next
from kit.client_address import request_client_address
from kit.settings import Settings
from kit.web import DbSession, Now, request_unit_of_work
from kit.worker_threads import in_worker_thread

router = APIRouter(include_in_schema=False)

SECOND_FACTOR_PATH = "/signin/second-factor"


def _with_locale(path: str, request: Request) -> str:
    ui_locales = request.query_params.get("ui_locales")
    return f"{path}?{urlencode({'ui_locales': ui_locales})}" if ui_locales else path


def _set_pending_cookie(response: Response, policy: SessionPolicy, token: str) -> None:
    response.set_cookie(
        flows.PENDING_COOKIE,
        token,
        max_age=int(flows.PENDING_TTL.total_seconds()),
        path="/signin",
        httponly=True,
        samesite="lax",
        secure=policy.secure_cookie,
    )


def _set_known_browser_cookie(response: Response, policy: SessionPolicy, value: str | None) -> None:
    if value:
        response.set_cookie(
            known_device.COOKIE,
            value,
            max_age=int(known_device.LIFETIME.total_seconds()),
            path=known_device.COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=policy.secure_cookie,
        )


def _clear_pending_cookie(response: Response) -> None:
    response.delete_cookie(flows.PENDING_COOKIE, path="/signin", httponly=True, samesite="lax")


def _signin_page(
    request: Request,
    *,
    identifier: str = "",
    errors: dict[str, str] | None = None,
    locked_until: datetime | None = None,
    signed_in: bool = False,
    app_required: bool = False,
    current: flows.SignedInAccount | None = None,
    status_code: int = 200,
) -> Response:
    """``current``: the account to continue with, offered next to signing in with another
    (``prompt=select_account``)."""
    return render(
        request,
        "signin.html",
        {
            "current": current,
            "next": safe_next(request.query_params.get("next")),
            "identifier": identifier,
            "errors": errors or {},
            "locked_until": locked_until,
            "signed_in": signed_in,
            "app_required": app_required,
            "notice": notice_from(request),
        },
        status_code,
    )


@router.get("/signin")
def signin_page(
    request: Request,
    db: DbSession,
    now: Now,
    policy: SessionPolicyDep,
    session: OptionalSession,
    keyring: KeyringDep,
    next: str | None = None,
    acr: str | None = None,
    prompt: str | None = None,
    login_hint: str | None = None,
) -> Response:
    next_path = safe_next(next)
    if session is not None and prompt == "select_account":
        chosen = flows.signed_in_account(db, keyring, session)
        if chosen is not None:
            return _signin_page(request, identifier=(login_hint or "")[:254], signed_in=True, current=chosen)
    if session is not None and prompt not in ("login", "select_account"):
        route = flows.step_up_route(db, session, acr)
        if route == flows.SECOND_FACTOR:
            token = flows.begin_step_up(db, now, session, next_path)
            response = RedirectResponse(_with_locale(SECOND_FACTOR_PATH, request), status_code=303)
            _set_pending_cookie(response, policy, token)
            return response
        if route == flows.APP:
            return render(request, "signin/app_step_up.html", {"next": next_path, "signed_in": True})
        return RedirectResponse(next_path, status_code=303)
    return _signin_page(
        request,
        identifier=(login_hint or "")[:254],
        signed_in=session is not None,
        app_required=acr == ACR_DEVICE,
    )


@dataclass(frozen=True)
class SigninCall:
    """What the password sign-in needs of its request: its unit of work, its time, the
    CSRF-checked form, where it came from and the app's keyring, hasher, session policy,
    known-browser keys and courier."""

    db: Session
    now: datetime
    form: FormData
    meta: RequestMeta
    address: str | None
    keyring: Keyring
    hasher: PooledHasher
    policy: SessionPolicy
    known_devices: known_device.KnownDevices
    courier: Courier


@lru_cache(maxsize=4)
def _known_devices(master_key: bytes) -> known_device.KnownDevices:
    return known_device.KnownDevices.from_master(master_key)


@asynccontextmanager
async def _signin_call(request: Request) -> AsyncIterator[SigninCall]:
    """What the sign-in needs, read without FastAPI's dependencies (it declared eleven): it
    is a hot path (bench/signin.py), and takes nothing but the request so that
    ``kit.exact_routes`` serves it by its exact path. The form is checked (CSRF) before the
    unit of work, ``kit.web``'s, begins."""
    form = await checked_form(request)
    state = request.app.state
    settings: Settings = state.settings
    address = request_client_address(request, settings.trusted_proxy_networks)
    async with request_unit_of_work(state.sessions) as db:
        yield SigninCall(
            db=db,
            now=state.clock(),
            form=form,
            meta=RequestMeta.of(address, request.headers.get("user-agent")),
            address=address,
            keyring=state.keyring,
            hasher=state.hasher,
            policy=state.session_policy,
            known_devices=_known_devices(state.master_key),
            courier=state.courier,
        )


@router.post("/signin")
async def signin_submit(request: Request) -> Response:
    async with _signin_call(request) as call:
        return await in_worker_thread(_password_signin, request, call)


def _password_signin(request: Request, call: SigninCall) -> Response:
    db, now, policy, form = call.db, call.now, call.policy, call.form
    # The hot path (bench/signin.py): the session is read here rather than through
    # OptionalSession, a sync dependency that would cost a hop through the thread pool.
    session = current_session(db, request, policy, now)
    next_path = safe_next(request.query_params.get("next"))
    identifier = str(form.get("identifier") or "").strip()
    password = str(form.get("password") or "")
    errors = {}
    if not identifier:
        errors["identifier"] = "identifier.required"
    if not password:
        errors["password"] = "password.required"
    if errors:
        return _signin_page(request, identifier=identifier, errors=errors, status_code=400)
    outcome = flows.password_signin(
        db,
        keyring=call.keyring,
        hasher=call.hasher,
        policy=policy,
        known_devices=call.known_devices,
        now=now,
        identifier=identifier,
        password=password,
        client_host=call.address,
        known_browser_cookie=request.cookies.get(known_device.COOKIE),
        meta=call.meta,
        existing=session,
        next_path=next_path,
    )
    # Committed here, in the thread the route runs in, rather than by a second hop into the
    # thread pool at the end of the unit of work (kit.web): before any response is built.
    db.commit()
    if isinstance(outcome, flows.Failed):
        locked = outcome.error == "signin.locked"
        page = _signin_page(
            request,
            identifier=identifier,
            errors={}
            if locked
            else {"password" if outcome.error == "signin.wrong" else "identifier": outcome.error},
            locked_until=outcome.locked_until,
            status_code=429 if locked else 400,
        )
        if outcome.notice_queued:
            page.background = call.courier.after_response()
        return page
    if isinstance(outcome, flows.NeedsSecondFactor):
        response = RedirectResponse(_with_locale(SECOND_FACTOR_PATH, request), status_code=303)
        _set_pending_cookie(response, policy, outcome.pending_token)
        if outcome.notice_queued:
            response.background = call.courier.after_response()
        return response
    response = RedirectResponse(next_path, status_code=303)
    if outcome.new_cookie_token:
        set_session_cookie(response, policy, outcome.new_cookie_token)
    _set_known_browser_cookie(response, policy, outcome.known_browser_cookie)
    return response


def _second_factor_page(
    request: Request,
    *,
    step_up: bool,
    errors: dict[str, str] | None = None,
    locked_until: datetime | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "second_factor.html",
        {"step_up": step_up, "errors": errors or {}, "locked_until": locked_until},
        status_code,
    )


@router.get(SECOND_FACTOR_PATH)
def second_factor_page(request: Request, db: DbSession, now: Now) -> Response:
    pending = flows.pending_signin(db, now, request.cookies.get(flows.PENDING_COOKIE))
    if pending is None:
        return RedirectResponse("/signin", status_code=303)
    return _second_factor_page(request, step_up=pending.session_id is not None)


@router.post(SECOND_FACTOR_PATH)
def second_factor_submit(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    session: OptionalSession,
    master_key: MasterKey,
    address: ClientAddress,
    courier: CourierDep,
) -> Response:
    pending = flows.pending_signin(db, now, request.cookies.get(flows.PENDING_COOKIE))
    if pending is None:
        return RedirectResponse("/signin?notice=second_factor.restart", status_code=303)
    code = str(form.get("code") or "").strip()
    step_up = pending.session_id is not None
    if not code:
        return _second_factor_page(
            request, step_up=step_up, errors={"code": "code.required"}, status_code=400
        )
    next_path = pending.next_path
    outcome = flows.second_factor(
        db,
        keyring=keyring,
        policy=policy,
        known_devices=known_device.KnownDevices.from_master(master_key),
        now=now,
        pending=pending,
        code=code,
        client_host=address,
        known_browser_cookie=request.cookies.get(known_device.COOKIE),
        meta=meta,
        existing=session,
    )
    if isinstance(outcome, flows.Failed):
        if outcome.error == "second_factor.restart":
            query = urlencode({"next": next_path, "notice": "second_factor.restart"})
            response: Response = RedirectResponse(f"/signin?{query}", status_code=303)
            _clear_pending_cookie(response)
        else:
            locked = outcome.error == "signin.locked"
            response = _second_factor_page(
                request,
                step_up=step_up,
                errors={} if locked else {"code": outcome.error},
                locked_until=outcome.locked_until,
                status_code=429 if locked else 400,
            )
        if outcome.notice_queued:
            response.background = courier.after_response()
        return response
    assert isinstance(outcome, flows.SignedIn)
    response = RedirectResponse(next_path, status_code=303)
    _clear_pending_cookie(response)
    if outcome.new_cookie_token:
        set_session_cookie(response, policy, outcome.new_cookie_token)
    _set_known_browser_cookie(response, policy, outcome.known_browser_cookie)
    return response


@router.post("/signout")
def signout(
    db: DbSession,
    now: Now,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    session: OptionalSession,
    logouts: LogoutCourierDep,
) -> Response:
    if session is not None:
        end_session(db, session.id, now)
        announce_logout(db, session.account_id, [session.id], now, SIGNED_OUT)
        accounts.record_event(db, session.account_id, "session.ended", meta, now)
    response = RedirectResponse("/signin?notice=notice.signed_out", status_code=303)
    clear_session_cookie(response, policy)
    return deliver_after(response, logouts)
