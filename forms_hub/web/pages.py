"""The forms hub's pages: forms list, the resident's applications, the form itself (with
attachments and prefill), status, receipt, notifications, licences, public verification,
and the officers' queue. Pages call the same services as the API."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from forms_hub.access import session_principal
from forms_hub.attachments.routes import file_response
from forms_hub.attachments.service import TYPE_NAMES, add_attachment, get_attachment, remove_attachment
from forms_hub.definitions import repository as definitions
from forms_hub.definitions.answers import answers_from_form
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.service import document_of
from forms_hub.errors import AttachmentRejected, FormsError, InvalidAnswers, PrefillRecheckNeeded
from forms_hub.hub import FormsHub, Officer, Resident, get_hub
from forms_hub.licences import repository as licences
from forms_hub.licences import service as licence_service
from forms_hub.licences.routes import licence_view
from forms_hub.oidc_client.routes import start_authorization
from forms_hub.oidc_client.service import PURPOSE_PREFILL
from forms_hub.submissions import flows, repository
from forms_hub.submissions import service as submissions
from forms_hub.submissions.prefill import prefill_claims, prefill_rows
from forms_hub.submissions.receipts import InvalidReceipt
from forms_hub.submissions.routes import submit_with_recheck
from forms_hub.submissions.views import queue_item, submission_view
from forms_hub.web.i18n import choose_language, translator
from forms_hub.web.rendering import check_csrf, error_page, redirect, render

router = APIRouter(include_in_schema=False)
NOTICES = {
    "saved": "Your draft was saved.",
    "attached": "The file was attached.",
    "removed": "The file was removed.",
    "prefilled": "Your details were filled from your identity.",
    "prefill_empty": "No details were released, so nothing was filled.",
    "prefill_declined": "No details were released, so nothing was filled.",
}


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice")
    return translator(choose_language(request))(NOTICES[key]) if key in NOTICES else None


def _resident(request: Request, hub: FormsHub) -> Resident | None:
    principal = session_principal(request, hub)
    return Resident(principal.sub) if principal and principal.kind == "resident" else None


def _officer(request: Request, hub: FormsHub) -> Officer | None:
    principal = session_principal(request, hub)
    if principal and principal.kind == "officer" and principal.department:
        return Officer(principal.sub, principal.department)
    return None


def _sign_in(request: Request) -> Response:
    from urllib.parse import quote

    return redirect("/forms/auth/login?next=" + quote(request.url.path))


def _failure(request: Request, exc: FormsError) -> Response:
    return error_page(request, exc.status, exc.detail)


# -- public -----------------------------------------------------------------------------------


@router.get("/")
def index(request: Request) -> Response:
    hub = get_hub(request)
    with hub.runtime.sessions() as db:
        forms = []
        for definition in definitions.list_published(db):
            doc = document_of(definition)
            forms.append(
                {
                    "slug": definition.slug,
                    "title": doc.title,
                    "department_name": doc.raw["department_name"],
                    "description": doc.raw.get("description"),
                    "licence": definition.is_licence,
                }
            )
    return render(request, "index.html", {"forms": forms, "notice_text": _notice(request)})


@router.get("/verify")
def verify_page(request: Request, number: str | None = None) -> Response:
    hub = get_hub(request)
    result = None
    if number:
        with hub.runtime.sessions() as db:
            result = licence_service.verification(db, number.strip().upper()[:64], hub.now())
    return render(request, "verify.html", {"number": number, "result": result})


@router.get("/verify/{number}")
def verify_number_page(request: Request, number: str) -> Response:
    return verify_page(request, number)


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


# -- the resident -----------------------------------------------------------------------------


@router.get("/my")
def my_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return redirect("/forms/officer") if _officer(request, hub) else _sign_in(request)
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
            "notice_text": _notice(request),
        },
    )


@router.post("/start/{slug}")
async def start(request: Request, slug: str) -> Response:
    hub = get_hub(request)
    form = await request.form()
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    check_csrf(request, hub, form.get("csrf"))

    def work() -> Response:
        try:
            with hub.transaction() as db:
                draft = submissions.create_draft(db, hub, resident, slug, {}, hub.now())
        except FormsError as exc:
            return _failure(request, exc)
        return redirect(f"/forms/submissions/{draft.id}/edit")

    return await run_in_threadpool(work)


def _type_names(types: list[str]) -> str:
    return ", ".join(TYPE_NAMES.get(t, t) for t in types)


def _edit_context(
    db, hub: FormsHub, request: Request, submission, *, answers=None, errors=None
) -> dict[str, Any]:  # noqa: ANN001
    definition = submissions.definition_of(db, submission)
    doc = document_of(definition)
    notice = submissions.bring_up_to_date(db, hub, submission, hub.now())
    if notice == submissions.NOTICE_MIGRATED:
        definition = submissions.definition_of(db, submission)
        doc = document_of(definition)
    view = submission_view(db, hub, submission, for_resident=True)
    info_request = next(
        (e["reason"] for e in reversed(view["history"]) if e["action"] == "request_info"), None
    )
    error_list = [e if isinstance(e, dict) else e.as_json() for e in (errors or [])]
    grace_until = None
    if notice == submissions.NOTICE_NEWER_VERSION and definition.superseded_at:
        grace_until = (definition.superseded_at + hub.config.superseded_grace).date().isoformat()
    return {
        "doc": doc,
        "submission": view,
        "answers": answers if answers is not None else view["answers"],
        "attachments": view["attachments"],
        "readonly": {n for n, m in submission.prefill.items() if m.get("verified")},
        "prefilled": set(submission.prefill),
        "errors": error_list,
        "field_errors": {e["field"]: e for e in error_list},
        "version_notice": notice,
        "grace_until": grace_until,
        "info_request": info_request,
        "form_token": secrets.token_urlsafe(18),
        "type_names": _type_names,
        "notice_text": _notice(request),
    }


@router.get("/submissions/{submission_id}/edit")
def edit_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    try:
        with hub.transaction() as db:  # may move an old draft to the new version
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if submission.status not in ("draft", "info_requested"):
                return redirect(f"/forms/submissions/{submission.id}")
            context = _edit_context(db, hub, request, submission)
    except FormsError as exc:
        return _failure(request, exc)
    return render(request, "edit.html", context)


def _uploads(form: FormData, doc: FormDocument) -> list[tuple[str, UploadFile]]:
    found = []
    for slot in doc.attachments:
        for item in form.getlist(f"file:{slot['name']}"):
            if isinstance(item, UploadFile) and item.filename:
                found.append((slot["name"], item))
    return found


@router.post("/submissions/{submission_id}/edit")
async def edit_post(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > hub.config.max_upload_bytes + 256 * 1024:
        return error_page(request, 413, "The files are too large.")
    form = await request.form(max_files=20, max_fields=500)
    check_csrf(request, hub, form.get("csrf"))
    action = form.get("action", "save")
    token = str(form.get("form_token", ""))[:128] or None

    def work() -> Response:
        now = hub.now()
        try:
            with hub.transaction() as db:
                submission = submissions.get_own(db, resident, submission_id, now, lock=True)
                if (
                    submission.status != "draft"
                    and action == "submit"
                    and token
                    and submission.idempotency_key == token
                ):
                    return redirect(f"/forms/submissions/{submission.id}/receipt")  # a double click
                doc = document_of(submissions.definition_of(db, submission))
                answers = answers_from_form(doc, form)
                errors: list[dict[str, Any]] = []
                uploads = _uploads(form, doc)
                for slot, upload in uploads:
                    upload.file.seek(0)
                    data = upload.file.read(hub.config.max_upload_bytes + 1)
                    try:
                        add_attachment(db, hub, submission, slot, upload.filename, data, now)
                    except AttachmentRejected as exc:
                        message = exc.extensions.get("message") or {"en": exc.detail, "zh-HK": exc.detail}
                        errors.append({"field": slot, "code": exc.code, "message": message})
                try:
                    submissions.save_answers(db, hub, submission, answers, now)
                except InvalidAnswers as exc:
                    errors.extend(exc.extensions["errors"])
                if errors:
                    raise _Rerender(answers, errors)
                if action == "resubmit":
                    submissions.resubmit(
                        db,
                        hub,
                        submission,
                        resident,
                        answers=None,
                        note=None,
                        request_id=_rid(request),
                        now=now,
                    )
                    return redirect(f"/forms/submissions/{submission.id}")
            if action != "submit":
                return redirect(
                    f"/forms/submissions/{submission_id}/edit?notice={'attached' if uploads else 'saved'}"
                )
            submit_with_recheck(hub, resident, submission_id, key=token, request_id=_rid(request))
            return redirect(f"/forms/submissions/{submission_id}/receipt")
        except _Rerender as again:
            return _rerender(request, hub, resident, submission_id, again.answers, again.errors)
        except InvalidAnswers as exc:
            return _rerender(request, hub, resident, submission_id, None, exc.extensions["errors"])
        except PrefillRecheckNeeded as exc:
            message = {"en": exc.detail, "zh-HK": "必須再次核對由身份資料填寫的資料，請再次從身份資料填寫。"}
            return _rerender(
                request,
                hub,
                resident,
                submission_id,
                None,
                [{"field": "prefill", "code": exc.code, "message": message}],
            )
        except FormsError as exc:
            return _failure(request, exc)

    return await run_in_threadpool(work)


class _Rerender(Exception):
    def __init__(self, answers: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        super().__init__("rerender")
        self.answers, self.errors = answers, errors


def _rid(request: Request) -> str:
    from forms_hub.hub import request_id_of

    return request_id_of(request)


def _rerender(
    request: Request, hub: FormsHub, resident: Resident, submission_id: str, answers, errors
) -> Response:  # noqa: ANN001
    with hub.transaction() as db:
        submission = submissions.get_own(db, resident, submission_id, hub.now())
        context = _edit_context(db, hub, request, submission, answers=answers, errors=errors)
    return render(request, "edit.html", context, status=422)


@router.post("/submissions/{submission_id}/attachments/{attachment_id}/delete")
async def remove_attachment_page(request: Request, submission_id: str, attachment_id: str) -> Response:
    return await _resident_post(
        request,
        lambda db, hub, resident, now: remove_attachment(
            db, hub, submissions.get_own(db, resident, submission_id, now, lock=True), attachment_id, now
        ),
        f"/forms/submissions/{submission_id}/edit?notice=removed",
    )


@router.post("/submissions/{submission_id}/discard")
async def discard_page(request: Request, submission_id: str) -> Response:
    return await _resident_post(
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
    return await _resident_post(
        request,
        lambda db, hub, resident, now: submissions.withdraw(
            db, hub, submissions.get_own(db, resident, submission_id, now, lock=True), resident, reason, now
        ),
        f"/forms/submissions/{submission_id}",
        form=form,
    )


@router.post("/notifications/read")
async def notifications_read_page(request: Request) -> Response:
    return await _resident_post(
        request,
        lambda db, hub, resident, now: repository.mark_notifications_read(db, resident.sub, now),
        "/forms/notifications",
    )


@router.post("/licences/{number}/renew")
async def renew_page(request: Request, number: str) -> Response:
    holder: dict[str, str] = {}

    def work(db, hub, resident, now) -> None:  # noqa: ANN001
        holder["id"] = licence_service.start_renewal(db, hub, resident, number, now).id

    response = await _resident_post(request, work, "")
    return redirect(f"/forms/submissions/{holder['id']}/edit") if "id" in holder else response


async def _resident_post(request: Request, work, success: str, form: FormData | None = None) -> Response:  # noqa: ANN001
    hub = get_hub(request)
    form = form if form is not None else await request.form()
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    check_csrf(request, hub, form.get("csrf"))

    def run() -> Response:
        try:
            with hub.transaction() as db:
                work(db, hub, resident, hub.now())
        except FormsError as exc:
            return _failure(request, exc)
        return redirect(success)

    return await run_in_threadpool(run)


@router.get("/submissions/{submission_id}/attachments/{attachment_id}")
def download_page(request: Request, submission_id: str, attachment_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            return file_response(hub, get_attachment(db, submission, attachment_id))
    except FormsError as exc:
        return _failure(request, exc)


@router.get("/submissions/{submission_id}/prefill")
def prefill_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            doc = document_of(submissions.definition_of(db, submission))
            view = submission_view(db, hub, submission, for_resident=True, with_details=False)
    except FormsError as exc:
        return _failure(request, exc)
    rows = prefill_rows(doc, choose_language(request))
    return render(request, "prefill.html", {"doc": doc, "submission": view, "rows": rows})


@router.post("/submissions/{submission_id}/prefill")
async def prefill_start(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    form = await request.form()
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    check_csrf(request, hub, form.get("csrf"))

    def work() -> Response:
        try:
            with hub.runtime.sessions() as db:
                submission = submissions.get_own(db, resident, submission_id, hub.now())
                if submission.status != "draft":
                    return redirect(f"/forms/submissions/{submission.id}")
                claims = prefill_claims(document_of(submissions.definition_of(db, submission)))
        except FormsError as exc:
            return _failure(request, exc)
        if not claims:
            return redirect(f"/forms/submissions/{submission_id}/edit")
        return start_authorization(
            request,
            hub,
            purpose=PURPOSE_PREFILL,
            return_to=f"/forms/submissions/{submission_id}/edit",
            sub=resident.sub,
            submission_id=submission_id,
            claims=claims,
        )

    return await run_in_threadpool(work)


@router.get("/submissions/{submission_id}")
def status_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if submission.status == "draft":
                return redirect(f"/forms/submissions/{submission.id}/edit")
            view = submission_view(db, hub, submission, for_resident=True)
    except FormsError as exc:
        return _failure(request, exc)
    can_withdraw = "withdraw" in flows.actions_from(view["status"], flows.RESIDENT)
    return render(request, "status.html", {"submission": view, "can_withdraw": can_withdraw})


@router.get("/submissions/{submission_id}/receipt")
def receipt_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if not submission.receipt:
                return redirect(f"/forms/submissions/{submission.id}/edit")
            view = submission_view(db, hub, submission, for_resident=True)
    except FormsError as exc:
        return _failure(request, exc)
    return render(request, "receipt.html", {"submission": view})


@router.get("/notifications")
def notifications_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    with hub.runtime.sessions() as db:
        items = repository.notifications(db, resident.sub)
    return render(request, "notifications.html", {"items": items})


@router.get("/licences")
def licences_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    with hub.runtime.sessions() as db:
        items = [licence_view(db, hub, row, holder=True) for row in licences.for_holder(db, resident.sub)]
    return render(request, "licences.html", {"items": items})


@router.get("/licences/{number}")
def licence_page(request: Request, number: str) -> Response:
    import segno

    hub = get_hub(request)
    resident = _resident(request, hub)
    if resident is None:
        return _sign_in(request)
    with hub.runtime.sessions() as db:
        row = licences.by_number(db, number[:64])
        if row is None or row.holder_sub != resident.sub:
            return error_page(request, 404, "No such licence.")
        view = licence_view(db, hub, row, holder=True)
    qr_svg = segno.make(view["verification_url"], error="m").svg_inline(scale=4, title=view["number"])
    return render(request, "licence.html", {"licence": view, "qr_svg": qr_svg})


# -- officers ---------------------------------------------------------------------------------


@router.get("/officer")
def officer_queue(request: Request) -> Response:
    from forms_hub.submissions.repository import BadCursor, QueueFilter

    hub = get_hub(request)
    officer = _officer(request, hub)
    if officer is None:
        return (
            _sign_in(request)
            if session_principal(request, hub) is None
            else error_page(request, 403, "Only officers can see the queue.")
        )
    q = request.query_params
    status = q.get("status") if q.get("status") in flows.STATUSES else ""
    assigned = q.get("assigned") if q.get("assigned") in ("me", "none") else ""
    filters = {
        "status": status,
        "form": (q.get("form") or "")[:64],
        "assigned": assigned,
        "sort": "newest" if q.get("sort") == "newest" else "oldest",
    }
    spec = QueueFilter(
        department=officer.department,
        statuses=(status,) if status else ("submitted", "in_review", "info_requested"),
        form_slug=filters["form"] or None,
        assigned_to={"me": officer.sub, "none": ""}.get(assigned),
        newest_first=filters["sort"] == "newest",
        limit=hub.config.queue_page_size,
        cursor=(q.get("cursor") or None),
    )
    with hub.runtime.sessions() as db:
        try:
            rows, next_cursor = repository.queue(db, spec)
        except BadCursor:
            rows, next_cursor = [], None
        forms = [
            {"slug": d.slug, "title": {"en": d.title_en, "zh-HK": d.title_zh}}
            for d in definitions.list_published(db, officer.department)
        ]
    from urllib.parse import urlencode

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
def officer_case(request: Request, reference: str) -> Response:
    hub = get_hub(request)
    officer = _officer(request, hub)
    if officer is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_for_department(db, officer, reference[:40])
            view = submission_view(db, hub, submission, for_resident=False)
            definition = submissions.definition_of(db, submission)
            doc = document_of(definition)
    except FormsError as exc:
        return _failure(request, exc)
    return render(
        request,
        "officer_case.html",
        {
            "submission": view,
            "doc": doc,
            "actions": flows.actions_from(view["status"], flows.DEPARTMENT),
            "can_assign": view["status"] not in flows.DECIDED and view["assigned_to"] != officer.sub,
            "is_licence": definition.is_licence,
            "notice_text": _notice(request),
        },
    )


@router.post("/officer/cases/{reference}/action")
async def officer_action(request: Request, reference: str) -> Response:
    hub = get_hub(request)
    form = await request.form()
    officer = _officer(request, hub)
    if officer is None:
        return _sign_in(request)
    check_csrf(request, hub, form.get("csrf"))
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip() or None
    conditions = [c.strip() for c in str(form.get("conditions", "")).splitlines() if c.strip()] or None

    def work() -> Response:
        try:
            with hub.transaction() as db:
                submission = submissions.get_for_department(db, officer, reference[:40], lock=True)
                if action == "assign":
                    submissions.assign(db, submission, officer, officer.sub, hub.now())
                else:
                    submissions.department_action(
                        db,
                        hub,
                        submission,
                        officer,
                        action,
                        reason=reason,
                        conditions=conditions,
                        now=hub.now(),
                    )
        except FormsError as exc:
            return _failure(request, exc)
        return redirect(f"/forms/officer/cases/{reference}")

    return await run_in_threadpool(work)


@router.get("/officer/cases/{reference}/attachments/{attachment_id}")
def officer_download(request: Request, reference: str, attachment_id: str) -> Response:
    hub = get_hub(request)
    officer = _officer(request, hub)
    if officer is None:
        return _sign_in(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_for_department(db, officer, reference[:40])
            return file_response(hub, get_attachment(db, submission, attachment_id))
    except FormsError as exc:
        return _failure(request, exc)
