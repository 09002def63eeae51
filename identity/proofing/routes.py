"""The resident's identity page (/account/identity): the account's identity level and what
established it, a request for remote proofing with an image of the identity card, and the
counter code to read out to a registration officer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import CurrentAccount, Meta, SignedInAccount
from identity.accounts.schemas import FormErrors
from identity.dependencies import KeyringDep
from identity.proofing import service as proofing
from identity.proofing.dependencies import EvidenceStoreDep
from identity.proofing.evidence import MAX_UPLOAD_BYTES
from identity.proofing.verified import current_verification
from identity.security.keyring import Keyring
from identity.web import render
from identity.web.forms import CheckedForm, notice_from
from kit.web import DbSession, Now

router = APIRouter(include_in_schema=False)


def identity_page(
    request: Request,
    db: Session,
    keyring: Keyring,
    current: SignedInAccount,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    account = current.account
    context = {
        "signed_in": True,
        "notice": notice_from(request),
        "level": account.identity_level,
        "verification": current_verification(db, keyring, account.id),
        "pending": proofing.pending_request(db, account.id),
        "history": proofing.history(db, account.id),
        "counter_code": None,
        **(extra or {}),
    }
    return render(request, "account/identity.html", context, status_code)


@router.get("/account/identity")
def identity_home(request: Request, db: DbSession, keyring: KeyringDep, current: CurrentAccount) -> Response:
    if current.account.kind != accounts.RESIDENT:
        return RedirectResponse("/account", status_code=303)
    return identity_page(request, db, keyring, current)


@router.post("/account/identity/counter-code")
def counter_code(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    form: CheckedForm,
    current: CurrentAccount,
) -> Response:
    if current.account.kind != accounts.RESIDENT:
        return RedirectResponse("/account", status_code=303)
    code, expires_at = proofing.issue_counter_code(db, keyring, current.account, now)
    shown = f"{code[:4]} {code[4:]}"
    return identity_page(
        request, db, keyring, current, {"counter_code": shown, "counter_code_expires": expires_at}
    )


@router.post("/account/identity/evidence")
def upload_evidence(
    request: Request,
    db: DbSession,
    now: Now,
    keyring: KeyringDep,
    store: EvidenceStoreDep,
    form: CheckedForm,
    meta: Meta,
    current: CurrentAccount,
) -> Response:
    upload = form.get("evidence")
    data, media_type = b"", ""
    if isinstance(upload, UploadFile):
        data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        media_type = upload.content_type or ""
    try:
        proofing.request_remote(db, store, current.account, data, media_type, meta, now)
    except FormErrors as exc:
        return identity_page(request, db, keyring, current, {"errors": exc.errors}, 400)
    return RedirectResponse("/account/identity?notice=notice.proofing_requested", status_code=303)


@router.post("/account/identity/withdraw")
def withdraw(db: DbSession, now: Now, form: CheckedForm, meta: Meta, current: CurrentAccount) -> Response:
    proofing.withdraw_request(db, current.account, meta, now)
    return RedirectResponse("/account/identity?notice=notice.proofing_withdrawn", status_code=303)
