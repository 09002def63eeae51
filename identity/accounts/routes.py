"""The resident's pages: enrolment, activation of an account enrolled at a counter, account
home (profile), contact verification, security (password, TOTP, recovery codes, sessions),
account activity, password reset."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import CurrentAccount, Meta, SignedInAccount
from identity.accounts.schemas import ContactChange, Enrolment, FormErrors
from identity.assurance import ACR_BASIC, AMR_PASSWORD
from identity.backchannel import service as backchannel
from identity.backchannel.delivery import LogoutCourier, LogoutCourierDep, deliver_after
from identity.dependencies import HasherDep, KeyringDep
from identity.messaging.delivery import Courier, CourierDep
from identity.security import totp
from identity.security.keyring import Keyring
from identity.sessions import service as sessions
from identity.sessions.dependencies import OptionalSession, SessionPolicyDep
from identity.sessions.service import SessionPolicy, SignedInSession
from identity.throttling import service as throttling
from identity.throttling.dependencies import ClientAddress
from identity.web import render
from identity.web.forms import CheckedForm, notice_from
from kit.i18n import HONG_KONG
from kit.outbox import FileDelivery
from kit.web import DbSession, Now

router = APIRouter(include_in_schema=False)

ENROL_FIELDS = ("hkid", "name", "name_zh", "birthdate", "gender", "address", "phone", "email")
Channel = Literal["email", "phone"]


def _page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return render(
        request, template, {"signed_in": True, "notice": notice_from(request), **context}, status_code
    )


def _redirect(path: str, courier: Courier | None = None) -> RedirectResponse:
    """A 303 to ``path``; with ``courier``, the messages queued by this request go out after it."""
    background = courier.after_response() if courier is not None else None
    return RedirectResponse(path, status_code=303, background=background)


# Enrolment -------------------------------------------------------------------------------


def _entry_page(
    request: Request,
    template: str,
    form: dict[str, str],
    session: SignedInSession | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A form filled in before having an account to sign in to (enrolment, activation), with
    what was typed echoed; the header shows whether this browser is signed in to another."""
    values = {"form": form, "signed_in": session is not None, **context}
    return render(request, template, values, status_code)


def _probe_lock(
    db: Session, kind: str, address: str | None, now: datetime
) -> tuple[str, throttling.Lock | None]:
    """The throttling key of this source's ``kind`` of probes, and its lock if it is paused."""
    probe_key = f"{kind}:" + (throttling.source_key(address) or "-")
    return probe_key, throttling.check(db, probe_key, now)


def _start_password_session(
    db: Session,
    policy: SessionPolicy,
    now: datetime,
    account_id: str,
    meta: accounts.RequestMeta,
    response: Response,
    *,
    replacing: SignedInSession | None,
    logouts: LogoutCourier,
) -> Response:
    """Signs the browser in to ``account_id`` by its password, the cookie set on ``response``.

    A session this browser already had (another account's) ends, and the departments holding
    its tokens are told (back-channel logout), as when another account signs in here."""
    if replacing is not None:
        sessions.end_session(db, replacing.id, now)
        backchannel.announce_logout(db, replacing.account_id, [replacing.id], now, backchannel.SIGNED_OUT)
    token, _ = sessions.start_session(
        db,
        policy,
        now,
        account_id=account_id,
        acr=ACR_BASIC,
        amr=[AMR_PASSWORD],
        source=meta.source,
        user_agent=meta.user_agent,
    )
    sessions.set_session_cookie(response, policy, token)
    return deliver_after(response, logouts)


@router.get("/enrol")
def enrol_page(request: Request, session: OptionalSession) -> Response:
    return _entry_page(request, "enrol.html", {}, session)


@router.post("/enrol")
def enrol_submit(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    session: OptionalSession,
    address: ClientAddress,
    logouts: LogoutCourierDep,
) -> Response:
    echo = {name: str(form.get(name) or "") for name in ENROL_FIELDS}
    today = now.astimezone(HONG_KONG).date()
    # "This number is already enrolled" tells a prober that the number has an account: such
    # refusals count against the source, which is then paused like a guessing sign-in.
    probe_key, lock = _probe_lock(db, "enrol", address, now)
    if lock is not None:
        return _entry_page(request, "enrol.html", echo, session, 429, locked_until=lock.until)
    try:
        account = accounts.enrol_resident(db, keyring, hasher, Enrolment.parse(form, today), meta, now=now)
    except FormErrors as exc:
        if {"hkid.taken", "email.taken"} & set(exc.errors.values()):
            throttling.record_probe(db, probe_key, now)
        return _entry_page(request, "enrol.html", echo, session, 400, errors=exc.errors)
    accounts.issue_code(db, keyring, account, "email", now)
    accounts.issue_code(db, keyring, account, "phone", now)
    response = _redirect("/account/verify/email?notice=notice.enrolled", courier)
    return _start_password_session(
        db, policy, now, account.id, meta, response, replacing=session, logouts=logouts
    )


# Activation of an account enrolled at a registration counter -----------------------------


@router.get("/activate")
def activate_page(request: Request, session: OptionalSession) -> Response:
    return _entry_page(request, "account/activate.html", {}, session)


@router.post("/activate")
def activate_submit(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    session: OptionalSession,
    address: ClientAddress,
    logouts: LogoutCourierDep,
) -> Response:
    echo = {"hkid": str(form.get("hkid") or "")}
    # Wrong codes count against the source like enrolment probes (and against the code: five
    # wrong tries end it), so that guessing codes for many numbers is paused too.
    probe_key, lock = _probe_lock(db, "activate", address, now)
    if lock is not None:
        return _entry_page(request, "account/activate.html", echo, session, 429, locked_until=lock.until)
    code = str(form.get("code") or "").strip()
    try:
        if not code:
            raise FormErrors({"code": "code.required"})
        account = accounts.activate_account(
            db,
            keyring,
            hasher,
            echo["hkid"],
            code,
            str(form.get("new_password") or ""),
            str(form.get("new_password_confirm") or ""),
            meta,
            now,
        )
    except FormErrors as exc:
        if "code" in exc.errors and exc.errors["code"] == "code.wrong":
            throttling.record_probe(db, probe_key, now)
        return _entry_page(request, "account/activate.html", echo, session, 400, errors=exc.errors)
    response = _redirect("/account?notice=notice.activated")
    return _start_password_session(
        db, policy, now, account.id, meta, response, replacing=session, logouts=logouts
    )


# Account home and profile ----------------------------------------------------------------


@router.get("/account")
def account_home(request: Request, keyring: KeyringDep, current: CurrentAccount) -> Response:
    account = current.account
    return _page(
        request,
        "account/home.html",
        {
            "kind": account.kind,
            "profile": accounts.load_profile(keyring, account),
            "hkid_masked": accounts.masked_hkid(keyring, account),
            "email_verified": account.email_verified_at is not None,
            "phone_verified": account.phone_verified_at is not None,
            "totp_enabled": accounts.has_totp(account),
            "username": account.username,
            "department": account.department,
            "roles": account.roles,
            "identity_level": account.identity_level,
        },
    )


@router.get("/account/profile")
def profile_page(request: Request, keyring: KeyringDep, current: CurrentAccount) -> Response:
    profile = accounts.load_profile(keyring, current.account)
    form = {"email": profile.email, "phone": profile.phone, "address": profile.address}
    return _page(request, "account/profile.html", {"form": form})


@router.post("/account/profile")
def profile_submit(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    echo = {name: str(form.get(name) or "") for name in ("email", "phone", "address")}
    try:
        changed = accounts.change_contact(db, keyring, current.account, ContactChange.parse(form), meta, now)
    except FormErrors as exc:
        return _page(request, "account/profile.html", {"form": echo, "errors": exc.errors}, 400)
    if changed:
        return _redirect(f"/account/verify/{changed[0]}?notice=notice.profile_updated", courier)
    return _redirect("/account?notice=notice.profile_updated")


@router.get("/account/verify/{channel}")
def verify_page(
    request: Request, channel: Channel, keyring: KeyringDep, courier: CourierDep, current: CurrentAccount
) -> Response:
    account = current.account
    verified = account.email_verified_at if channel == "email" else account.phone_verified_at
    if verified is not None:
        return _redirect(f"/account?notice=notice.{channel}_verified")
    profile = accounts.load_profile(keyring, account)
    destination = profile.email if channel == "email" else profile.phone
    return _page(
        request,
        "account/verify.html",
        {"channel": channel, "destination": destination, "outbox": development_outbox(request, courier)},
    )


def development_outbox(request: Request, courier: Courier) -> str | None:
    """On a developer's machine, where messages are written to files rather than sent: the
    folder, for the page to say where the code went."""
    delivery = courier.delivery
    if request.app.state.settings.is_development and isinstance(delivery, FileDelivery):
        return str(delivery.directory)
    return None


@router.post("/account/verify/{channel}")
def verify_submit(
    request: Request,
    channel: Channel,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    code = str(form.get("code") or "").strip()
    error = "code.required" if not code else None
    if error is None and not accounts.verify_contact(db, keyring, current.account, channel, code, meta, now):
        error = "code.wrong"
    if error:
        profile = accounts.load_profile(keyring, current.account)
        destination = profile.email if channel == "email" else profile.phone
        return _page(
            request,
            "account/verify.html",
            {"channel": channel, "destination": destination, "errors": {"code": error}},
            400,
        )
    return _redirect(f"/account?notice=notice.{channel}_verified")


@router.post("/account/verify/{channel}/resend")
def verify_resend(
    channel: Channel,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    current: CurrentAccount,
) -> Response:
    sent = accounts.issue_code(db, keyring, current.account, channel, now)
    notice = "notice.code_sent" if sent else "notice.code_not_sent"
    return _redirect(f"/account/verify/{channel}?notice={notice}", courier)


# Security --------------------------------------------------------------------------------


def _security_page(
    request: Request,
    db: Session,
    policy: SessionPolicy,
    now: datetime,
    current: SignedInAccount,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    account = current.account
    return _page(
        request,
        "account/security.html",
        {
            "totp_enabled": accounts.has_totp(account),
            "recovery_left": accounts.remaining_recovery_codes(db, account.id),
            "sessions": sessions.live_sessions(db, policy, now, account.id),
            "current_session_id": current.session.id,
            "errors": errors or {},
        },
        status_code,
    )


@router.get("/account/security")
def security_page(
    request: Request, db: DbSession, now: Now, policy: SessionPolicyDep, current: CurrentAccount
) -> Response:
    return _security_page(request, db, policy, now, current)


@router.post("/account/security/password")
def change_password(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
    logouts: LogoutCourierDep,
) -> Response:
    try:
        accounts.change_password(
            db,
            keyring,
            hasher,
            current.account,
            str(form.get("current_password") or ""),
            str(form.get("new_password") or ""),
            str(form.get("new_password_confirm") or ""),
            meta,
            now,
        )
    except FormErrors as exc:
        return _security_page(request, db, policy, now, current, exc.errors, 400)
    sessions.end_all_sessions(db, current.account.id, now, keep=current.session.id)
    backchannel.announce_logout(db, current.account.id, None, now, backchannel.PASSWORD_CHANGED)
    return deliver_after(_redirect("/account/security?notice=notice.password_changed"), logouts)


@router.get("/account/security/totp")
def totp_page(request: Request, keyring: KeyringDep, current: CurrentAccount) -> Response:
    if accounts.has_totp(current.account):
        return _redirect("/account/security")
    return _totp_setup_page(request, keyring, current)


def _totp_setup_page(
    request: Request,
    keyring: Keyring,
    current: SignedInAccount,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    secret = accounts.begin_totp_setup(keyring, current.account)
    uri = totp.provisioning_uri(secret, accounts.totp_label(keyring, current.account))
    manual_key = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    qr_svg = Markup(totp.qr_svg(uri))  # noqa: S704 - SVG made by segno, which escapes the URI
    context = {"qr_svg": qr_svg, "manual_key": manual_key, "errors": errors or {}}
    return _page(request, "account/totp_setup.html", context, status_code)


@router.post("/account/security/totp")
def totp_confirm(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    if accounts.has_totp(current.account):
        return _redirect("/account/security")
    try:
        codes = accounts.confirm_totp(db, keyring, current.account, str(form.get("code") or ""), meta, now)
    except FormErrors as exc:
        return _totp_setup_page(request, keyring, current, exc.errors, 400)
    return _page(request, "account/recovery_codes.html", {"codes": codes})


@router.post("/account/security/recovery-codes")
def regenerate_recovery_codes(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    account = current.account
    if not accounts.has_totp(account):
        return _redirect("/account/security")
    password = str(form.get("recovery_password") or "")
    if not hasher.verify(account.password_hash, password):
        return _security_page(request, db, policy, now, current, {"recovery_password": "password.wrong"}, 400)
    codes = accounts.new_recovery_codes(db, keyring, account, meta, now)
    return _page(request, "account/recovery_codes.html", {"codes": codes})


@router.post("/account/security/totp/disable")
def totp_disable(
    request: Request,
    db: DbSession,
    now: Now,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    try:
        accounts.disable_totp(db, hasher, current.account, str(form.get("password") or ""), meta, now)
    except FormErrors as exc:
        return _security_page(request, db, policy, now, current, exc.errors, 400)
    return _redirect("/account/security?notice=notice.totp_disabled")


@router.post("/account/sessions/end")
def end_one_session(
    db: DbSession,
    now: Now,
    policy: SessionPolicyDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
    logouts: LogoutCourierDep,
) -> Response:
    session_id = str(form.get("session") or "")
    owned = {row.id for row in sessions.live_sessions(db, policy, now, current.account.id)}
    if session_id in owned and session_id != current.session.id:
        sessions.end_session(db, session_id, now)
        backchannel.announce_logout(db, current.account.id, [session_id], now, backchannel.SESSION_ENDED)
        accounts.record_event(db, current.account.id, "session.ended", meta, now)
    return deliver_after(_redirect("/account/security?notice=notice.session_ended"), logouts)


@router.post("/account/sessions/end-all")
def end_other_sessions(
    db: DbSession,
    now: Now,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
    logouts: LogoutCourierDep,
) -> Response:
    ended = sessions.end_all_sessions(db, current.account.id, now, keep=current.session.id)
    backchannel.announce_logout(db, current.account.id, None, now, backchannel.SIGNED_OUT_EVERYWHERE)
    accounts.record_event(db, current.account.id, "sessions.ended_all", meta, now, count=ended)
    return deliver_after(_redirect("/account/security?notice=notice.sessions_ended"), logouts)


@router.get("/account/activity")
def activity_page(request: Request, db: DbSession, current: CurrentAccount) -> Response:
    return _page(request, "account/activity.html", {"events": accounts.activity(db, current.account.id)})


# Password reset --------------------------------------------------------------------------


@router.get("/reset")
def reset_page(request: Request, session: OptionalSession) -> Response:
    return render(request, "reset/request.html", {"identifier": "", "signed_in": session is not None})


@router.post("/reset")
def reset_request(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
) -> Response:
    identifier = str(form.get("identifier") or "").strip()
    if not identifier:
        return render(
            request,
            "reset/request.html",
            {"identifier": "", "errors": {"identifier": "identifier.required"}},
            400,
        )
    account = accounts.find_by_identifier(db, keyring, identifier)
    if (
        account is not None
        and account.status == accounts.ACTIVE
        and accounts.issue_code(db, keyring, account, "reset", now)
    ):
        accounts.record_event(db, account.id, "password.reset_requested", meta, now)
    # The same page whether or not an account matched: no way to probe for accounts.
    response = render(request, "reset/confirm.html", {"identifier": identifier})
    response.background = courier.after_response()
    return response


@router.post("/reset/confirm")
def reset_confirm(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    hasher: HasherDep,
    policy: SessionPolicyDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    logouts: LogoutCourierDep,
) -> Response:
    identifier = str(form.get("identifier") or "").strip()
    code = str(form.get("code") or "").strip()
    new = str(form.get("new_password") or "")
    confirm = str(form.get("new_password_confirm") or "")
    account = accounts.find_by_identifier(db, keyring, identifier) if identifier else None
    try:
        if not code:
            raise FormErrors({"code": "code.required"})
        if account is None or account.status != accounts.ACTIVE:
            raise FormErrors({"code": "code.wrong"})
        accounts.reset_password(db, keyring, hasher, account, code, new, confirm, meta, now)
    except FormErrors as exc:
        return render(request, "reset/confirm.html", {"identifier": identifier, "errors": exc.errors}, 400)
    ended = sessions.end_all_sessions(db, account.id, now)
    sessions.revoke_tokens(db, account.id, now)
    backchannel.announce_logout(db, account.id, None, now, backchannel.PASSWORD_RESET)
    accounts.record_event(db, account.id, "sessions.ended_all", meta, now, count=ended)
    response = _redirect("/signin?notice=notice.password_reset", courier)
    sessions.clear_session_cookie(response, policy)
    return deliver_after(response, logouts)
