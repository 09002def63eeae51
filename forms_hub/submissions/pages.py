"""A resident's applications: the list, starting a form, status and history, the receipt,
withdrawing or discarding, notifications; and the public receipt check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from forms_hub.errors import FormsError
from forms_hub.hub import get_hub
from forms_hub.submissions import flows, repository
from forms_hub.submissions import service as submissions
from forms_hub.submissions.receipts import InvalidReceipt
from forms_hub.submissions.views import submission_view
from forms_hub.web.page_helpers import (
    check_csrf,
    failure_page,
    notice_text,
    resident_post,
    sign_in_redirect,
    signed_in_officer,
    signed_in_resident,
)
from forms_hub.web.rendering import redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/receipts/verify")
def receipt_verify_page(request: Request) -> Response:
    return render(request, "receipt_verify.html", {})


@router.post("/receipts/verify")
async def receipt_verify_post(request: Request) -> Response:
    hub = get_hub(request)
    form = await request.form()
    receipt = str(form.get("receipt", "")).strip()[:8192]
    try:
        claims, failure = hub.receipts.verify(receipt), None
    except InvalidReceipt as exc:
        claims, failure = None, str(exc)
    return render(request, "receipt_verify.html", {"receipt": receipt, "claims": claims, "failure": failure})


@router.get("/my")
def my_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return redirect("/forms/officer") if signed_in_officer(request, hub) else sign_in_redirect(request)
    with hub.runtime.sessions() as db:
        rows = [
            submission_view(db, hub, s, for_resident=True, with_details=False)
            for s in repository.for_resident(db, resident.sub, hub.now())
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
async def start(request: Request, slug: str) -> Response:
    hub = get_hub(request)
    form = await request.form()
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    check_csrf(request, form)

    def work() -> Response:
        try:
            with hub.transaction() as db:
                draft = submissions.create_draft(db, hub, resident, slug, {}, hub.now())
        except FormsError as exc:
            return failure_page(request, exc)
        return redirect(f"/forms/submissions/{draft.id}/edit")

    return await run_in_threadpool(work)


@router.post("/submissions/{submission_id}/discard")
async def discard_page(request: Request, submission_id: str) -> Response:
    return await resident_post(
        request,
        lambda db, hub, resident, now: submissions.discard_draft(
            db, hub, submissions.get_own(db, resident, submission_id, now, lock=True)
        ),
        "/forms/my",
    )


@router.post("/submissions/{submission_id}/withdraw")
async def withdraw_page(request: Request, submission_id: str) -> Response:
    form = await request.form()
    reason = str(form.get("reason", ""))[:2000] or None
    return await resident_post(
        request,
        lambda db, hub, resident, now: submissions.withdraw(
            db, hub, submissions.get_own(db, resident, submission_id, now, lock=True), resident, reason, now
        ),
        f"/forms/submissions/{submission_id}",
        form=form,
    )


@router.get("/submissions/{submission_id}")
def status_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if submission.status == "draft":
                return redirect(f"/forms/submissions/{submission.id}/edit")
            view = submission_view(db, hub, submission, for_resident=True)
    except FormsError as exc:
        return failure_page(request, exc)
    can_withdraw = "withdraw" in flows.actions_from(view["status"], flows.RESIDENT)
    return render(request, "status.html", {"submission": view, "can_withdraw": can_withdraw})


@router.get("/submissions/{submission_id}/receipt")
def receipt_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if not submission.receipt:
                return redirect(f"/forms/submissions/{submission.id}/edit")
            view = submission_view(db, hub, submission, for_resident=True)
    except FormsError as exc:
        return failure_page(request, exc)
    return render(request, "receipt.html", {"submission": view})


@router.get("/notifications")
def notifications_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    with hub.runtime.sessions() as db:
        items = repository.notifications(db, resident.sub)
    return render(request, "notifications.html", {"items": items})


@router.post("/notifications/read")
async def notifications_read_page(request: Request) -> Response:
    return await resident_post(
        request,
        lambda db, hub, resident, now: repository.mark_notifications_read(db, resident.sub, now),
        "/forms/notifications",
    )
