"""The officers' side: the department's queue (filters, keyset pages), a case with its
history and attachments, and the officer's actions on it (forms_hub.submissions.flows)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from forms_hub.access import Visitor
from forms_hub.api.attachments import file_response
from forms_hub.decisions import decide
from forms_hub.definitions import repository as definitions
from forms_hub.definitions.service import document_of
from forms_hub.dependencies import AnswerSealer, Config, Outbox, RpKeys, SigningDep, Storage
from forms_hub.errors import FormsError
from forms_hub.pages.signatures import signature_context
from forms_hub.submissions import flows, repository
from forms_hub.submissions import service as submissions
from forms_hub.submissions.files import attachment_of
from forms_hub.submissions.records import definition_of
from forms_hub.submissions.repository import BadCursor, QueueFilter
from forms_hub.views import queue_item, submission_view
from forms_hub.web.page_helpers import (
    check_csrf,
    notice_text,
    page_router,
    refused,
    sign_in_redirect,
    signed_in_officer,
)
from forms_hub.web.rendering import error_page, redirect, render
from kit.i18n import N_
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = page_router()
OPEN_STATUSES = ("submitted", "in_review", "info_requested")


@router.get("/officer")
def officer_queue(request: Request, visitor: Visitor, db: DbSession, config: Config) -> Response:
    officer = signed_in_officer(visitor)
    if officer is None:
        return (
            sign_in_redirect(request)
            if visitor is None
            else error_page(request, 403, N_("Only officers can see the queue."))
        )
    q = request.query_params
    status = q.get("status") if q.get("status") in flows.STATUSES else ""
    assigned = q.get("assigned", "") if q.get("assigned") in ("me", "none") else ""
    filters = {
        "status": status,
        "form": (q.get("form") or "")[:64],
        "assigned": assigned,
        "sort": "newest" if q.get("sort") == "newest" else "oldest",
    }
    spec = QueueFilter(
        department=officer.department,
        statuses=(status,) if status else OPEN_STATUSES,
        form_slug=filters["form"] or None,
        assigned_to={"me": officer.sub, "none": ""}.get(assigned),
        newest_first=filters["sort"] == "newest",
        limit=config.queue_page_size,
        cursor=(q.get("cursor") or None),
    )
    try:
        rows, next_cursor = repository.queue(db, spec)
    except BadCursor:
        rows, next_cursor = [], None
    forms = [
        {"slug": d.slug, "title": {"en": d.title_en, "zh-HK": d.title_zh}}
        for d in definitions.list_published(db, officer.department)
    ]
    next_url = (
        "/forms/officer?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": next_cursor})
        if next_cursor
        else None
    )
    return render(
        request,
        "officer_queue.html",
        {
            "items": [queue_item(s) for s in rows],
            "filters": filters,
            "statuses": [s for s in flows.STATUSES if s != "draft"],
            "forms": forms,
            "next_url": next_url,
        },
    )


@router.get("/officer/cases/{reference}")
def officer_case(
    request: Request,
    reference: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    signing: SigningDep,
    keys: RpKeys,
    now: Now,
) -> Response:
    officer = signed_in_officer(visitor)
    if officer is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_for_department(db, officer, reference[:40])
        view = submission_view(db, sealer, submission, for_resident=False)
        definition = definition_of(db, submission)
        doc = document_of(definition)
    except FormsError as exc:
        return refused(request, db, exc)
    signature = signature_context(db, signing, keys, sealer, submission, view, now, for_officer=True)
    return render(
        request,
        "officer_case.html",
        {
            "signature": signature,
            "submission": view,
            "doc": doc,
            "actions": flows.actions_from(view["status"], flows.DEPARTMENT),
            "can_assign": view["status"] not in flows.DECIDED and view["assigned_to"] != officer.sub,
            "is_licence": definition.is_licence,
            "notice_text": notice_text(request),
        },
    )


@router.post("/officer/cases/{reference}/action")
async def officer_action(
    request: Request,
    reference: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    mailer: Outbox,
    now: Now,
) -> Response:
    form = await request.form()
    officer = signed_in_officer(visitor)
    if officer is None:
        return sign_in_redirect(request)
    check_csrf(request, form)
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip() or None
    conditions = [c.strip() for c in str(form.get("conditions", "")).splitlines() if c.strip()] or None

    def work() -> Response:
        try:
            submission = submissions.get_for_department(db, officer, reference[:40], lock=True)
            if action == "assign":
                submissions.assign(db, submission, officer, officer.sub, now)
            else:
                decide(
                    db,
                    sealer,
                    mailer,
                    submission,
                    officer,
                    action,
                    reason=reason,
                    conditions=conditions,
                    now=now,
                )
        except FormsError as exc:
            return refused(request, db, exc)
        return redirect(f"/forms/officer/cases/{reference}")

    return await in_worker_thread(work)


@router.get("/officer/cases/{reference}/attachments/{attachment_id}")
def officer_download(
    request: Request, reference: str, attachment_id: str, visitor: Visitor, db: DbSession, storage: Storage
) -> Response:
    officer = signed_in_officer(visitor)
    if officer is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_for_department(db, officer, reference[:40])
        return file_response(storage, attachment_of(db, submission, attachment_id))
    except FormsError as exc:
        return refused(request, db, exc)
