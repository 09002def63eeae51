"""Filling in a form: the edit page (answers, attachments, version notices), saving, sending
more information, and submitting once (a double click lands on the receipt)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from forms_hub import i18n as hub_i18n
from forms_hub.access import Visitor
from forms_hub.api.submissions import submit_with_recheck
from forms_hub.assurance import level_satisfies
from forms_hub.attachments.service import TYPE_NAMES
from forms_hub.crypto import Sealer
from forms_hub.definitions.answers import answers_from_form
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.service import document_of
from forms_hub.dependencies import (
    AnswerSealer,
    Config,
    Disclosures,
    Outbox,
    Provider,
    Receipts,
    RequestId,
    RpKeys,
    Storage,
)
from forms_hub.errors import (
    AttachmentRejected,
    FormsError,
    IdentityLevelRequired,
    InvalidAnswers,
    PrefillRecheckNeeded,
)
from forms_hub.submissions import service as submissions
from forms_hub.submissions.files import add_attachment
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import definition_of
from forms_hub.views import submission_view
from forms_hub.web.page_helpers import (
    check_csrf,
    identity_level_page,
    notice_text,
    page_router,
    refused,
    sign_in_redirect,
    signed_in_resident,
)
from forms_hub.web.rendering import error_page, redirect, render
from kit.i18n import CHINESE, ENGLISH, N_
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = page_router()
# Room for the multipart framing and the text fields around the files.
FORM_OVERHEAD_BYTES = 256 * 1024


def _type_names(types: list[str]) -> str:
    return ", ".join(TYPE_NAMES.get(t, t) for t in types)


def _edit_context(
    db: Session,
    sealer: Sealer,
    superseded_grace: timedelta,
    request: Request,
    submission: Submission,
    now: datetime,
    *,
    answers: dict[str, Any] | None = None,
    errors: list[Any] | None = None,
) -> dict[str, Any]:
    definition = definition_of(db, submission)
    doc = document_of(definition)
    notice = submissions.bring_up_to_date(db, sealer, superseded_grace, submission, now)
    if notice == submissions.NOTICE_MIGRATED:
        definition = definition_of(db, submission)
        doc = document_of(definition)
    view = submission_view(db, sealer, submission, for_resident=True)
    info_request = next(
        (e["reason"] for e in reversed(view["history"]) if e["action"] == "request_info"), None
    )
    error_list = [e if isinstance(e, dict) else e.as_json() for e in (errors or [])]
    grace_until = None
    if notice == submissions.NOTICE_NEWER_VERSION and definition.superseded_at:
        grace_until = (definition.superseded_at + superseded_grace).date().isoformat()
    return {
        "doc": doc,
        "submission": view,
        "answers": answers if answers is not None else view["answers"],
        "attachments": view["attachments"],
        "readonly": {n for n, m in submission.prefill.items() if m.get("verified")},
        "level_short": submission.identity_level is not None
        and not level_satisfies(submission.identity_level, doc.min_identity_level),
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
def edit_page(
    request: Request,
    submission_id: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    now: Now,
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:  # may move an old draft to the new version
        submission = submissions.get_own(db, resident, submission_id, now)
        if submission.status not in ("draft", "info_requested"):
            return redirect(f"/forms/submissions/{submission.id}")
        context = _edit_context(db, sealer, config.superseded_grace, request, submission, now)
    except FormsError as exc:
        return refused(request, db, exc)
    return render(request, "edit.html", context)


def _uploads(form: FormData, doc: FormDocument) -> list[tuple[str, UploadFile]]:
    found = []
    for slot in doc.attachments:
        for item in form.getlist(f"file:{slot['name']}"):
            if isinstance(item, UploadFile) and item.filename:
                found.append((slot["name"], item))
    return found


@router.post("/submissions/{submission_id}/edit")
async def edit_post(
    request: Request,
    submission_id: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    storage: Storage,
    receipts: Receipts,
    disclosures: Disclosures,
    mailer: Outbox,
    keys: RpKeys,
    provider: Provider,
    request_id: RequestId,
    now: Now,
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > config.max_upload_bytes + FORM_OVERHEAD_BYTES:
        return error_page(request, 413, N_("The files are too large."))
    form = await request.form(max_files=20, max_fields=500)
    check_csrf(request, form)
    action = form.get("action", "save")
    token = str(form.get("form_token", ""))[:128] or None

    def rerender(answers: dict[str, Any] | None, errors: list[Any]) -> Response:
        db.rollback()  # nothing of this post is kept
        submission = submissions.get_own(db, resident, submission_id, now)
        context = _edit_context(
            db, sealer, config.superseded_grace, request, submission, now, answers=answers, errors=errors
        )
        return render(request, "edit.html", context, status=422)

    def work() -> Response:
        try:
            submission = submissions.get_own(db, resident, submission_id, now, lock=True)
            if (
                submission.status != "draft"
                and action == "submit"
                and token
                and submission.idempotency_key == token
            ):
                return redirect(f"/forms/submissions/{submission.id}/receipt")  # a double click
            doc = document_of(definition_of(db, submission))
            answers = answers_from_form(doc, form)
            errors: list[dict[str, Any]] = []
            uploads = _uploads(form, doc)
            for slot, upload in uploads:
                upload.file.seek(0)
                data = upload.file.read(config.max_upload_bytes + 1)
                try:
                    add_attachment(
                        db,
                        storage,
                        submission,
                        slot,
                        upload.filename,
                        data,
                        now,
                        max_image_pixels=config.max_image_pixels,
                    )
                except AttachmentRejected as exc:
                    message = exc.extensions.get("message") or {"en": exc.detail, "zh-HK": exc.detail}
                    errors.append({"field": slot, "code": exc.code, "message": message})
            try:
                submissions.save_answers(db, sealer, config.draft_ttl, submission, answers, now)
            except InvalidAnswers as exc:
                errors.extend(exc.extensions["errors"])
                if action in ("submit", "resubmit"):  # every error at once, not in two rounds
                    shown = {e["field"] for e in errors}
                    missing = submissions.missing_for_submit(db, doc, submission, answers)
                    errors.extend(e for e in missing if e["field"] not in shown)
            if errors:
                return rerender(answers, errors)
            if action == "resubmit":
                submissions.resubmit(
                    db,
                    submission,
                    resident,
                    config=config,
                    sealer=sealer,
                    disclosures=disclosures,
                    mailer=mailer,
                    answers=None,
                    note=None,
                    request_id=request_id,
                    now=now,
                )
                return redirect(f"/forms/submissions/{submission.id}")
            db.commit()  # the answers and files are saved, whatever the submission's fate
            if action != "submit":
                return redirect(
                    f"/forms/submissions/{submission_id}/edit?notice={'attached' if uploads else 'saved'}"
                )
            submit_with_recheck(
                db,
                resident,
                submission_id,
                config=config,
                sealer=sealer,
                receipts=receipts,
                disclosures=disclosures,
                mailer=mailer,
                keys=keys,
                provider=provider,
                key=token,
                request_id=request_id,
                now=now,
            )
            return redirect(f"/forms/submissions/{submission_id}/receipt")
        except InvalidAnswers as exc:
            return rerender(None, exc.extensions["errors"])
        except IdentityLevelRequired as exc:
            db.rollback()  # the answers were saved before submitting
            submission = submissions.get_own(db, resident, submission_id, now)
            view = submission_view(db, sealer, submission, for_resident=True, with_details=False)
            return identity_level_page(request, exc.required_level, exc.identity_level, view)
        except PrefillRecheckNeeded as exc:
            message = {
                lang: hub_i18n.gettext(lang, exc.message) % exc.values
                if exc.values
                else hub_i18n.gettext(lang, exc.message)
                for lang in (ENGLISH, CHINESE)
            }
            return rerender(None, [{"field": "prefill", "code": exc.code, "message": message}])
        except FormsError as exc:
            return refused(request, db, exc)

    return await in_worker_thread(work)
