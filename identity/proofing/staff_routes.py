"""The registration officer's pages (/staff/registration/...): look a resident up by identity
card number, proof them in person, decide remote requests from the queue, enrol a resident
at the counter. Only for staff holding the ``registrar`` role (dependencies.CurrentRegistrar);
every action is recorded on the officer's account by the service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import Meta
from identity.accounts.models import Account
from identity.accounts.schemas import CounterEnrolment, FormErrors
from identity.backchannel.delivery import LogoutCourierDep, deliver_after
from identity.dependencies import ConsentDep, KeyringDep
from identity.messaging.delivery import Courier, CourierDep
from identity.proofing import service as proofing
from identity.proofing.dependencies import CurrentRegistrar, EvidenceStoreDep
from identity.proofing.evidence import EvidenceDamaged
from identity.proofing.models import IdentityProofing
from identity.proofing.schemas import CheckedValues
from identity.security.keyring import Keyring
from identity.web import render
from identity.web.forms import CheckedForm, notice_from
from kit.i18n import HONG_KONG
from kit.web import DbSession, Now

router = APIRouter(include_in_schema=False)

BASE = "/staff/registration"
IDENTITY_FIELDS = ("hkid", "name", "name_zh", "birthdate", "gender")
ENROL_FIELDS = (*IDENTITY_FIELDS, "phone", "email")
EVIDENCE_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "content-disposition": "inline",
    "referrer-policy": "no-referrer",
}


def _page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    values = {"signed_in": True, "notice": notice_from(request), **context}
    return render(request, f"staff/{template}", values, status_code)


def _redirect(path: str, courier: Courier | None = None) -> RedirectResponse:
    """A 303 to ``path``; with ``courier``, the notices queued by this request go out after it."""
    background = courier.after_response() if courier is not None else None
    return RedirectResponse(path, status_code=303, background=background)


def _echo(form: Any, fields: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in fields}


def _today(now: datetime) -> date:
    return now.astimezone(HONG_KONG).date()


def _card_values(keyring: Keyring, account: Account) -> dict[str, str]:
    """The account's identity fields as a form the officer checks against the card."""
    profile = accounts.load_profile(keyring, account)
    return {
        "hkid": accounts.formatted_hkid(keyring, account) or "",
        "name": profile.name,
        "name_zh": profile.name_zh or "",
        "birthdate": profile.birthdate or "",
        "gender": profile.gender or "",
    }


def _resident(keyring: Keyring, account: Account) -> dict[str, Any]:
    profile = accounts.load_profile(keyring, account)
    return {
        "id": account.id,
        "name": profile.name,
        "name_zh": profile.name_zh,
        "hkid": accounts.formatted_hkid(keyring, account),
        "level": account.identity_level,
        "status": account.status,
        "activated": accounts.has_usable_password(account),
    }


def _checking_page(
    request: Request,
    template: str,
    keyring: Keyring,
    account: Account,
    form: dict[str, str] | None,
    errors: dict[str, str] | None,
    status_code: int,
    **context: Any,
) -> Response:
    """A page on which the officer checks a resident's identity-card fields: the resident, the
    form (what the officer typed, else the account's values) and its errors."""
    checking = {
        "resident": _resident(keyring, account),
        "form": form if form is not None else _card_values(keyring, account),
        "errors": errors or {},
    }
    return _page(request, template, {**context, **checking}, status_code)


# Home and lookup ---------------------------------------------------------------------------


@router.get(BASE)
def registration_home(request: Request, db: DbSession, officer: CurrentRegistrar) -> Response:
    waiting = len(proofing.queue(db, officer.account))
    return _page(request, "home.html", {"waiting": waiting, "form": {}})


@router.post(f"{BASE}/lookup")
def lookup(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    form: CheckedForm,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    typed = str(form.get("hkid") or "")
    try:
        account = proofing.lookup(db, keyring, officer.account, typed, meta, now)
    except FormErrors as exc:
        waiting = len(proofing.queue(db, officer.account))
        return _page(
            request, "home.html", {"waiting": waiting, "form": {"hkid": typed}, "errors": exc.errors}, 400
        )
    if account is None:
        context = {"form": {"hkid": typed}, "notice": "notice.lookup_none", "claimed": False}
        return _page(request, "enrol.html", context)
    return _redirect(f"{BASE}/accounts/{account.id}")


# A resident's account: level, history, proofing in person ------------------------------------


def _account_page(
    request: Request,
    db: Session,
    keyring: Keyring,
    account: Account,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    history = proofing.history(db, account.id)
    return _checking_page(
        request, "account.html", keyring, account, form, errors, status_code, history=history
    )


@router.get(BASE + "/accounts/{account_id}")
def account_page(
    request: Request,
    account_id: str,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    account = proofing.view_account(db, officer.account, account_id[:64], meta, now)
    if account is None:
        return _not_found(request)
    return _account_page(request, db, keyring, account)


@router.post(BASE + "/accounts/{account_id}/proof")
def proof_in_person(
    request: Request,
    account_id: str,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    account = proofing.get_resident(db, officer.account, account_id[:64])
    if account is None:
        return _not_found(request)
    echo = _echo(form, IDENTITY_FIELDS)
    try:
        values = CheckedValues.parse(form, _today(now))
        code = str(form.get("counter_code") or "")
        proofing.proof_in_person(db, keyring, officer.account, account, code, values, meta, now)
    except FormErrors as exc:
        return _account_page(request, db, keyring, account, echo, exc.errors, 400)
    return _redirect(f"{BASE}/accounts/{account.id}?notice=notice.proofed", courier)


# The queue of remote requests ------------------------------------------------------------------


@router.get(f"{BASE}/queue")
def queue_page(request: Request, db: DbSession, keyring: KeyringDep, officer: CurrentRegistrar) -> Response:
    rows = [
        {"proofing": row, "resident": _resident(keyring, account)}
        for row, account in proofing.queue(db, officer.account)
    ]
    return _page(request, "queue.html", {"rows": rows})


def _request_page(
    request: Request,
    db: Session,
    keyring: Keyring,
    officer: Account,
    row: IdentityProofing,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    account = proofing.resident_of(db, officer, row)
    if account is None:
        return _not_found(request)
    return _checking_page(request, "request.html", keyring, account, form, errors, status_code, proofing=row)


@router.get(BASE + "/requests/{proofing_id}")
def request_page(
    request: Request,
    proofing_id: str,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    row = proofing.view_request(db, officer.account, proofing_id[:64], meta, now)
    if row is None:
        return _not_found(request)
    return _request_page(request, db, keyring, officer.account, row)


@router.get(BASE + "/requests/{proofing_id}/evidence")
def evidence(
    request: Request,
    proofing_id: str,
    db: DbSession,
    now: Now,
    store: EvidenceStoreDep,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    try:
        found = proofing.evidence_of(db, store, officer.account, proofing_id[:64], meta, now)
    except EvidenceDamaged:
        return _error(request, "evidence.damaged", 500)
    if found is None:
        return _not_found(request)
    data, media_type = found
    return Response(data, media_type=media_type, headers=EVIDENCE_HEADERS)


@router.post(BASE + "/requests/{proofing_id}/approve")
def approve(
    request: Request,
    proofing_id: str,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    row = proofing.get_request(db, officer.account, proofing_id[:64])
    if row is None:
        return _not_found(request)
    echo = _echo(form, IDENTITY_FIELDS)
    try:
        values = CheckedValues.parse(form, _today(now))
        proofing.approve_request(db, keyring, officer.account, row.id, values, meta, now)
    except FormErrors as exc:
        return _request_page(request, db, keyring, officer.account, row, echo, exc.errors, 400)
    return _redirect(f"{BASE}/queue?notice=notice.request_approved", courier)


@router.post(BASE + "/requests/{proofing_id}/reject")
def reject(
    request: Request,
    proofing_id: str,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    officer: CurrentRegistrar,
) -> Response:
    row = proofing.get_request(db, officer.account, proofing_id[:64])
    if row is None:
        return _not_found(request)
    try:
        proofing.reject_request(
            db, keyring, officer.account, row.id, str(form.get("reason") or ""), meta, now
        )
    except FormErrors as exc:
        return _request_page(request, db, keyring, officer.account, row, None, exc.errors, 400)
    return _redirect(f"{BASE}/queue?notice=notice.request_rejected", courier)


# Enrolment at the counter --------------------------------------------------------------------


@router.get(f"{BASE}/enrol")
def enrol_page(request: Request, officer: CurrentRegistrar) -> Response:
    return _page(request, "enrol.html", {"form": {}, "claimed": False})


@router.post(f"{BASE}/enrol")
def enrol_submit(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    consent: ConsentDep,
    courier: CourierDep,
    form: CheckedForm,
    meta: Meta,
    officer: CurrentRegistrar,
    logouts: LogoutCourierDep,
) -> Response:
    echo = _echo(form, ENROL_FIELDS)
    try:
        enrolment = CounterEnrolment.parse(form, _today(now))
        enrolled = proofing.enrol_in_person(
            db,
            keyring,
            consent,
            officer.account,
            enrolment,
            meta,
            now,
            suspend_claimant=form.get("suspend_claimant") == "yes",
        )
    except FormErrors as exc:
        claimed = exc.errors.get("hkid") == "registration.number_claimed"
        return _page(request, "enrol.html", {"form": echo, "errors": exc.errors, "claimed": claimed}, 400)
    context = {
        "resident": _resident(keyring, enrolled.account),
        "activation_code": f"{enrolled.activation_code[:4]} {enrolled.activation_code[4:]}",
        "suspended": enrolled.suspended is not None,
    }
    response = _page(request, "enrolled.html", context)
    response.background = courier.after_response()
    return deliver_after(response, logouts)  # the suspended claimant's departments are told


def _not_found(request: Request) -> Response:
    return _error(request, "registration.not_found", 404)


def _error(request: Request, detail_code: str, status_code: int) -> Response:
    context = {"title_code": "registration.title", "detail_code": detail_code}
    return render(request, "error.html", {"signed_in": True, **context}, status_code)
