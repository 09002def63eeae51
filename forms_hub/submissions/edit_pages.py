"""Filling in a form: the edit page (answers, attachments, version notices), saving, sending
more information, and submitting once (a double click lands on the receipt)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from forms_hub.attachments.service import TYPE_NAMES, add_attachment
from forms_hub.definitions.answers import answers_from_form
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.service import document_of
from forms_hub.errors import AttachmentRejected, FormsError, InvalidAnswers, PrefillRecheckNeeded
from forms_hub.hub import FormsHub, Resident, get_hub, request_id_of
from forms_hub.submissions import service as submissions
from forms_hub.submissions.models import Submission
from forms_hub.submissions.routes import submit_with_recheck
from forms_hub.submissions.views import submission_view
from forms_hub.web.page_helpers import (
    check_csrf,
    failure_page,
    notice_text,
    sign_in_redirect,
    signed_in_resident,
)
from forms_hub.web.rendering import error_page, redirect, render

router = APIRouter(include_in_schema=False)
# Room for the multipart framing and the text fields around the files.
FORM_OVERHEAD_BYTES = 256 * 1024


def _type_names(types: list[str]) -> str:
    return ", ".join(TYPE_NAMES.get(t, t) for t in types)


def _edit_context(
    db: Session,
    hub: FormsHub,
    request: Request,
    submission: Submission,
    *,
    answers: dict[str, Any] | None = None,
    errors: list[Any] | None = None,
) -> dict[str, Any]:
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
        "notice_text": notice_text(request),
    }


@router.get("/submissions/{submission_id}/edit")
def edit_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    try:
        with hub.transaction() as db:  # may move an old draft to the new version
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            if submission.status not in ("draft", "info_requested"):
                return redirect(f"/forms/submissions/{submission.id}")
            context = _edit_context(db, hub, request, submission)
    except FormsError as exc:
        return failure_page(request, exc)
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
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > hub.config.max_upload_bytes + FORM_OVERHEAD_BYTES:
        return error_page(request, 413, "The files are too large.")
    form = await request.form(max_files=20, max_fields=500)
    check_csrf(request, form)
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
                        request_id=request_id_of(request),
                        now=now,
                    )
                    return redirect(f"/forms/submissions/{submission.id}")
            if action != "submit":
                return redirect(
                    f"/forms/submissions/{submission_id}/edit?notice={'attached' if uploads else 'saved'}"
                )
            submit_with_recheck(hub, resident, submission_id, key=token, request_id=request_id_of(request))
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
            return failure_page(request, exc)

    return await run_in_threadpool(work)


class _Rerender(Exception):
    """Leaves the transaction (rolling back the saves) to show the page again with errors."""

    def __init__(self, answers: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        super().__init__("rerender")
        self.answers, self.errors = answers, errors


def _rerender(
    request: Request,
    hub: FormsHub,
    resident: Resident,
    submission_id: str,
    answers: dict[str, Any] | None,
    errors: list[Any],
) -> Response:
    with hub.transaction() as db:
        submission = submissions.get_own(db, resident, submission_id, hub.now())
        context = _edit_context(db, hub, request, submission, answers=answers, errors=errors)
    return render(request, "edit.html", context, status=422)
