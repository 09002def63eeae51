"""A resident's applications: the list, starting a form, status and history, the receipt,
withdrawing or discarding, notifications; and the public receipt check."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from forms_hub import i18n as hub_i18n
from forms_hub.access import Visitor
from forms_hub.dependencies import AnswerSealer, Config, Outbox, Receipts, RpKeys, SigningDep, Storage
from forms_hub.errors import FormsError
from forms_hub.pages.signatures import REFRESH_SECONDS, signature_context
from forms_hub.principals import Resident
from forms_hub.submissions import flows, repository
from forms_hub.submissions import service as submissions
from forms_hub.submissions.receipts import InvalidReceipt
from forms_hub.submissions.records import create_draft
from forms_hub.views import submission_view
from forms_hub.web.page_helpers import (
    notice_text,
    page_router,
    refused,
    resident_post,
    sign_in_redirect,
    signed_in_officer,
    signed_in_resident,
)
from forms_hub.web.rendering import redirect, render
from kit.i18n import choose_language
from kit.web import DbSession, Now

router = page_router()


@router.get("/receipts/verify")
def receipt_verify_page(request: Request) -> Response:
    return render(request, "receipt_verify.html", {})


@router.post("/receipts/verify")
async def receipt_verify_post(request: Request, receipts: Receipts) -> Response:
    form = await request.form()
    receipt = str(form.get("receipt", "")).strip()[:8192]
    try:
        claims, failure = receipts.verify(receipt), None
    except InvalidReceipt as exc:
        claims, failure = None, hub_i18n.gettext(choose_language(request), str(exc))
    return render(request, "receipt_verify.html", {"receipt": receipt, "claims": claims, "failure": failure})


@router.get("/my")
def my_page(request: Request, visitor: Visitor, db: DbSession, sealer: AnswerSealer, now: Now) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return redirect("/forms/officer") if signed_in_officer(visitor) else sign_in_redirect(request)
    rows = [
        submission_view(db, sealer, s, for_resident=True, with_details=False)
        for s in repository.for_resident(db, resident.sub, now)
    ]
    return render(
        request,
        "my.html",
        {
            "drafts": [r for r in rows if r["status"] == "draft"],
            "submitted": [r for r in rows if r["status"] != "draft"],
            "notice_text": notice_text(request),
        },
    )


@router.post("/start/{slug}")
async def start(
    request: Request,
    slug: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    now: Now,
) -> Response:
    def begin(db: Session, resident: Resident, now: datetime) -> Response:
        draft = create_draft(db, sealer, config.draft_ttl, resident, slug, {}, now)
        return redirect(f"/forms/submissions/{draft.id}/edit")

    return await resident_post(request, db, visitor, now, begin)


@router.post("/submissions/{submission_id}/discard")
async def discard_page(
    request: Request, submission_id: str, visitor: Visitor, db: DbSession, storage: Storage, now: Now
) -> Response:
    def discard(db: Session, resident: Resident, now: datetime) -> None:
        submissions.discard_draft(
            db, storage, submissions.get_own(db, resident, submission_id, now, lock=True)
        )

    return await resident_post(request, db, visitor, now, discard, "/forms/my")


@router.post("/submissions/{submission_id}/withdraw")
async def withdraw_page(
    request: Request,
    submission_id: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    mailer: Outbox,
    now: Now,
) -> Response:
    form = await request.form()
    reason = str(form.get("reason", ""))[:2000] or None

    def withdraw(db: Session, resident: Resident, now: datetime) -> None:
        submission = submissions.get_own(db, resident, submission_id, now, lock=True)
        submissions.withdraw(db, sealer, mailer, submission, resident, reason, now)

    return await resident_post(
        request, db, visitor, now, withdraw, f"/forms/submissions/{submission_id}", form=form
    )


@router.get("/submissions/{submission_id}")
def status_page(
    request: Request, submission_id: str, visitor: Visitor, db: DbSession, sealer: AnswerSealer, now: Now
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_own(db, resident, submission_id, now)
        if submission.status == "draft":
            return redirect(f"/forms/submissions/{submission.id}/edit")
        view = submission_view(db, sealer, submission, for_resident=True)
    except FormsError as exc:
        return refused(request, db, exc)
    can_withdraw = "withdraw" in flows.actions_from(view["status"], flows.RESIDENT)
    return render(request, "status.html", {"submission": view, "can_withdraw": can_withdraw})


@router.get("/submissions/{submission_id}/receipt")
def receipt_page(
    request: Request,
    submission_id: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    now: Now,
    signing: SigningDep,
    keys: RpKeys,
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_own(db, resident, submission_id, now)
        if not submission.receipt:
            return redirect(f"/forms/submissions/{submission.id}/edit")
        view = submission_view(db, sealer, submission, for_resident=True)
    except FormsError as exc:
        return refused(request, db, exc)
    signature = signature_context(db, signing, keys, sealer, submission, view, now, for_officer=False)
    response = render(request, "receipt.html", {"submission": view, "signature": signature})
    if signature and signature["status"] == "pending":
        response.headers["refresh"] = str(REFRESH_SECONDS)  # until the resident answered in the app
    return response


@router.get("/notifications")
def notifications_page(request: Request, visitor: Visitor, db: DbSession) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    items = repository.notifications(db, resident.sub)
    return render(request, "notifications.html", {"items": items})


@router.post("/notifications/read")
async def notifications_read_page(request: Request, visitor: Visitor, db: DbSession, now: Now) -> Response:
    def mark_read(db: Session, resident: Resident, now: datetime) -> None:
        repository.mark_notifications_read(db, resident.sub, now)

    return await resident_post(request, db, visitor, now, mark_read, "/forms/notifications")
