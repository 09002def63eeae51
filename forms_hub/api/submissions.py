"""HTTP surface of submissions: the resident's API, the department's queue and
transitions, notifications, and receipt verification. Handlers parse, authorise (through
the access dependencies), call the service and shape the response."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from forms_hub.access import CurrentResident, CurrentStaff
from forms_hub.api.responses import RESIDENT_CHANGES, RESIDENT_READS, STAFF, with_refusals
from forms_hub.config import FormsConfig
from forms_hub.crypto import Sealer, canonical_json, sha256_hex
from forms_hub.decisions import decide
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
from forms_hub.errors import AttachmentTooLarge, FormsError, IdentityLevelRequired, InvalidInput
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.provider import ProviderClient
from forms_hub.oidc_client.service import (
    client_credentials,
    drop_prefill_tokens,
    prefill_tokens,
    store_prefill_tokens,
)
from forms_hub.ports import DisclosureRecorder
from forms_hub.principals import Resident
from forms_hub.submissions import flows, repository
from forms_hub.submissions import service as submissions
from forms_hub.submissions.models import Submission
from forms_hub.submissions.outbox import Mailer
from forms_hub.submissions.prefill import fresh_release
from forms_hub.submissions.receipts import InvalidReceipt, ReceiptSigner
from forms_hub.submissions.records import create_draft
from forms_hub.submissions.schemas import (
    Answers,
    Assignment,
    DepartmentTransition,
    NewSubmission,
    NotificationList,
    NotificationsMarked,
    NotificationsRead,
    Queue,
    ReceiptOut,
    ReceiptToVerify,
    ReceiptVerification,
    Resubmission,
    SubmissionList,
    SubmissionView,
    Withdrawal,
)
from forms_hub.views import notification_view, queue_item, submission_view
from kit.openapi import Responses, combine, problem_responses
from kit.problems import Problem
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = APIRouter(tags=["submissions"])
department_router = APIRouter(tags=["department"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", max_length=128, description="Makes a retried submit produce one submission"
    ),
]
NO_STORE = {"Cache-Control": "no-store"}
REPLAYED_HEADER: Responses = {
    200: {
        "description": "A retry with the same Idempotency-Key: the first request's submission",
        "headers": {"Idempotent-Replayed": {"description": "true on a replay", "schema": {"type": "string"}}},
    }
}
REPLAYED = combine(REPLAYED_HEADER, {200: {"model": SubmissionView}})


def _json(body: Any, status: int = 200, *, replayed: bool = False) -> JSONResponse:
    headers = dict(NO_STORE)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().strip('"')  # the IETF draft sends it as an sf-string
    if not value or len(value) > 128 or not value.isprintable():
        raise InvalidInput("Idempotency-Key must be 1 to 128 printable characters.")
    return value


def _required_key(value: str | None) -> str:
    key = _key(value)
    if key is None:
        raise Problem(428, "Precondition Required", "Submitting needs an Idempotency-Key header.")
    return key


def _submitted_once(
    db: Session, sealer: Sealer, attempt: Callable[[], tuple[Submission, bool]]
) -> JSONResponse:
    """A create-and-submit under an Idempotency-Key: 201 with the new submission, or 200 with
    the first one as a replay."""
    try:
        submission, replayed = attempt()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer as its replay.
        db.rollback()
        submission, replayed = attempt()
    body = submission_view(db, sealer, submission, for_resident=True)
    return _json(body, 200 if replayed else 201, replayed=replayed)


# -- resident -------------------------------------------------------------------------------


@router.post(
    "/api/submissions",
    status_code=201,
    response_model=SubmissionView,
    responses=combine(REPLAYED, with_refusals(RESIDENT_CHANGES, 404, 409, 422, 428)),
)
def create_submission(
    body: NewSubmission,
    resident: CurrentResident,
    db: DbSession,
    config: Config,
    sealer: AnswerSealer,
    storage: Storage,
    receipts: Receipts,
    disclosures: Disclosures,
    mailer: Outbox,
    request_id: RequestId,
    now: Now,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Save a draft, or (``submit: true`` with an Idempotency-Key) submit at once. A form
    that needs an identity level cannot be submitted at once (403 ``identity_level_required``):
    save a draft, fill it from the identity, then submit it."""
    if not body.submit:
        draft = create_draft(db, sealer, config.draft_ttl, resident, body.form, body.answers, now)
        return _json(submission_view(db, sealer, draft, for_resident=True), 201)
    key = _required_key(idempotency_key)
    fingerprint = sha256_hex(canonical_json({"form": body.form, "answers": body.answers}))

    def attempt() -> tuple[Submission, bool]:
        return submissions.submit_new(
            db,
            resident,
            body.form,
            body.answers,
            config=config,
            sealer=sealer,
            storage=storage,
            receipts=receipts,
            disclosures=disclosures,
            mailer=mailer,
            idempotency_key=key,
            fingerprint=fingerprint,
            request_id=request_id,
            now=now,
        )

    return _submitted_once(db, sealer, attempt)


@router.post(
    "/api/forms/{slug}/submissions",
    status_code=201,
    response_model=SubmissionView,
    responses=combine(REPLAYED, with_refusals(RESIDENT_CHANGES, 404, 409, 413, 422, 428)),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["answers"],
                        "properties": {
                            "answers": {"type": "string", "description": "The answers as a JSON object"},
                        },
                        "additionalProperties": {
                            "type": "string",
                            "format": "binary",
                            "description": "A file, in a part named after the definition's attachment",
                        },
                    }
                }
            },
        }
    },
)
async def submit_form(
    slug: str,
    request: Request,
    resident: CurrentResident,
    db: DbSession,
    config: Config,
    sealer: AnswerSealer,
    storage: Storage,
    receipts: Receipts,
    disclosures: Disclosures,
    mailer: Outbox,
    request_id: RequestId,
    now: Now,
) -> JSONResponse:
    """Submit a form in one request: the answers and the files (multipart, each file in a
    part named after the definition's attachment). Needs an Idempotency-Key; a retry with
    the same key and request returns the first submission. A form that needs an identity
    level is refused (403 ``identity_level_required``): it needs a draft filled from the
    identity."""
    key = _required_key(request.headers.get("idempotency-key"))
    limit = config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 256 * 1024:
        raise AttachmentTooLarge(f"The request is larger than {limit // (1024 * 1024)} MB.")
    form = await request.form(max_files=20, max_fields=20)
    try:
        answers = json.loads(str(form.get("answers", "")))
    except ValueError:
        raise InvalidInput("The answers part must be a JSON object.") from None
    if not isinstance(answers, dict):
        raise InvalidInput("The answers part must be a JSON object.")
    files = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            value.file.seek(0)
            files.append((name, value.filename, value.file.read(limit + 1)))
    fingerprint = sha256_hex(
        canonical_json({"form": slug, "answers": answers, "files": [[n, sha256_hex(d)] for n, _, d in files]})
    )

    def attempt() -> tuple[Submission, bool]:
        return submissions.submit_new(
            db,
            resident,
            slug,
            answers,
            config=config,
            sealer=sealer,
            storage=storage,
            receipts=receipts,
            disclosures=disclosures,
            mailer=mailer,
            idempotency_key=key,
            fingerprint=fingerprint,
            request_id=request_id,
            now=now,
            files=files,
        )

    return await in_worker_thread(_submitted_once, db, sealer, attempt)


@router.get("/api/submissions", response_model=SubmissionList, responses=RESIDENT_READS)
def my_submissions(resident: CurrentResident, db: DbSession, sealer: AnswerSealer, now: Now) -> JSONResponse:
    rows = repository.for_resident(db, resident.sub, now)
    return _json(
        {"items": [submission_view(db, sealer, s, for_resident=True, with_details=False) for s in rows]}
    )


@router.get(
    "/api/submissions/{submission_id}",
    response_model=SubmissionView,
    responses=with_refusals(RESIDENT_READS, 404),
)
def my_submission(
    submission_id: str,
    resident: CurrentResident,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    now: Now,
) -> JSONResponse:
    submission = submissions.get_own(db, resident, submission_id, now)
    notice = submissions.bring_up_to_date(db, sealer, config.superseded_grace, submission, now)
    return _json(submission_view(db, sealer, submission, for_resident=True, notice=notice))


@router.put(
    "/api/submissions/{submission_id}/answers",
    response_model=SubmissionView,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409, 422),
)
def save_answers(
    submission_id: str,
    body: Answers,
    resident: CurrentResident,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    now: Now,
) -> JSONResponse:
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    submissions.save_answers(db, sealer, config.draft_ttl, submission, body.answers, now)
    return _json(submission_view(db, sealer, submission, for_resident=True))


@router.delete(
    "/api/submissions/{submission_id}",
    status_code=204,
    response_class=Response,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409),
)
def discard(
    submission_id: str, resident: CurrentResident, db: DbSession, storage: Storage, now: Now
) -> Response:
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    submissions.discard_draft(db, storage, submission)
    return Response(status_code=204)


def submit_with_recheck(
    db: Session,
    resident: Resident,
    submission_id: str,
    *,
    config: FormsConfig,
    sealer: Sealer,
    receipts: ReceiptSigner,
    disclosures: DisclosureRecorder,
    mailer: Mailer,
    keys: RelyingPartyKeys,
    provider: ProviderClient,
    key: str | None,
    request_id: str,
    now: datetime,
    view: bool = False,
) -> tuple[dict[str, Any] | None, bool]:
    """Submit a draft, with the identity checks against a fresh release from the provider:
    verified prefilled answers, and the identity level of a form that needs one.

    Without identity checks this is one step. With them, three, so that no transaction is
    open while the provider is called: read what the checks need (and commit); call the
    provider with the tokens of the draft's identity release; submit. Returns (the
    submission's view when asked for, replayed). Raises FormsError (and then the submission
    is unchanged, but for the identity level a refused release showed)."""

    def submit(submission: Submission, fresh_claims: dict[str, Any] | None) -> tuple[Submission, bool]:
        return submissions.submit(
            db,
            submission,
            resident,
            config=config,
            sealer=sealer,
            receipts=receipts,
            disclosures=disclosures,
            mailer=mailer,
            idempotency_key=key,
            fingerprint=None,
            fresh_claims=fresh_claims,
            request_id=request_id,
            now=now,
        )

    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    stored = None
    if submission.status == "draft" and submissions.needs_identity_release(db, submission):
        stored = prefill_tokens(db, keys, submission.id)
    if stored is None:  # no identity checks, or no release to check against (refused)
        submission, replayed = submit(submission, None)
        body = submission_view(db, sealer, submission, for_resident=True) if view else None
        return body, replayed
    credentials = client_credentials(db, keys)
    db.commit()
    fresh, refreshed = fresh_release(provider, *credentials, stored, now)
    try:
        submission = submissions.get_own(db, resident, submission_id, now, lock=True)
        submission, replayed = submit(submission, fresh)
        drop_prefill_tokens(db, submission.id)
        body = submission_view(db, sealer, submission, for_resident=True) if view else None
    except FormsError as exc:
        db.rollback()
        if refreshed:
            # The old refresh token is spent (rotation): keep the new ones for the retry.
            store_prefill_tokens(db, keys, submission_id, stored.sub, refreshed, stored.claims, now)
        if isinstance(exc, IdentityLevelRequired) and exc.identity_level:
            refused = submissions.get_own(db, resident, submission_id, now, lock=True)
            refused.identity_level = exc.identity_level  # what the edit page then shows
        db.commit()
        raise
    return body, replayed


@router.post(
    "/api/submissions/{submission_id}/submit",
    response_model=SubmissionView,
    responses=combine(REPLAYED_HEADER, with_refusals(RESIDENT_CHANGES, 404, 409, 422)),
)
def submit_draft(
    submission_id: str,
    resident: CurrentResident,
    db: DbSession,
    config: Config,
    sealer: AnswerSealer,
    receipts: Receipts,
    disclosures: Disclosures,
    mailer: Outbox,
    keys: RpKeys,
    provider: Provider,
    request_id: RequestId,
    now: Now,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Submit a draft. Verified answers filled from the identity are checked again against
    the verified_claims of a fresh release from the provider (a changed value: 422); a form
    that needs an identity level (``min_identity_level``) is refused with 403
    ``identity_level_required`` unless that release shows the level."""
    body, replayed = submit_with_recheck(
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
        key=_key(idempotency_key),
        request_id=request_id,
        now=now,
        view=True,
    )
    return _json(body, 200, replayed=replayed)


@router.post(
    "/api/submissions/{submission_id}/resubmit",
    response_model=SubmissionView,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409, 422),
)
def resubmit(
    submission_id: str,
    body: Resubmission,
    resident: CurrentResident,
    db: DbSession,
    config: Config,
    sealer: AnswerSealer,
    disclosures: Disclosures,
    mailer: Outbox,
    request_id: RequestId,
    now: Now,
) -> JSONResponse:
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    submissions.resubmit(
        db,
        submission,
        resident,
        config=config,
        sealer=sealer,
        disclosures=disclosures,
        mailer=mailer,
        answers=body.answers,
        note=body.note,
        request_id=request_id,
        now=now,
    )
    return _json(submission_view(db, sealer, submission, for_resident=True))


@router.post(
    "/api/submissions/{submission_id}/withdraw",
    response_model=SubmissionView,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409, 422),
)
def withdraw(
    submission_id: str,
    body: Withdrawal,
    resident: CurrentResident,
    db: DbSession,
    sealer: AnswerSealer,
    mailer: Outbox,
    now: Now,
) -> JSONResponse:
    submission = submissions.get_own(db, resident, submission_id, now, lock=True)
    submissions.withdraw(db, sealer, mailer, submission, resident, body.reason, now)
    return _json(submission_view(db, sealer, submission, for_resident=True))


@router.get(
    "/api/submissions/{submission_id}/receipt",
    response_model=ReceiptOut,
    responses=with_refusals(RESIDENT_READS, 404),
)
def receipt(submission_id: str, resident: CurrentResident, db: DbSession, now: Now) -> JSONResponse:
    submission = submissions.get_own(db, resident, submission_id, now)
    if not submission.receipt:
        raise Problem(404, "Not found", "A draft has no receipt.")
    return _json({"reference": submission.reference, "receipt": submission.receipt})


@router.get("/api/notifications", response_model=NotificationList, responses=RESIDENT_READS)
def notifications(resident: CurrentResident, db: DbSession) -> JSONResponse:
    rows = repository.notifications(db, resident.sub)
    return _json(
        {"items": [notification_view(n) for n in rows], "unread": sum(1 for n in rows if n.read_at is None)}
    )


@router.post(
    "/api/notifications/read",
    response_model=NotificationsMarked,
    responses=with_refusals(RESIDENT_CHANGES, 422),
)
def notifications_read(
    body: NotificationsRead, resident: CurrentResident, db: DbSession, now: Now
) -> JSONResponse:
    count = repository.mark_notifications_read(db, resident.sub, now, body.ids)
    return _json({"marked": count})


# -- anyone ---------------------------------------------------------------------------------


@router.post(
    "/api/receipts/verify",
    tags=["public"],
    response_model=ReceiptVerification,
    responses=problem_responses(422),
)
def verify_receipt(body: ReceiptToVerify, receipts: Receipts) -> JSONResponse:
    """Check a receipt's signature against the hub's keys; says nothing about the case."""
    try:
        claims = receipts.verify(body.receipt)
    except InvalidReceipt as exc:
        raise Problem(422, "Invalid receipt", str(exc)) from None
    return _json({"valid": True, "claims": claims})


# -- department -----------------------------------------------------------------------------


def _statuses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    statuses = tuple(s for s in value.split(",") if s)
    unknown = [s for s in statuses if s not in flows.STATUSES or s == "draft"]
    if unknown:
        raise InvalidInput(f"Unknown status {unknown[0]!r}.")
    return statuses


@department_router.get(
    "/api/department/submissions", response_model=Queue, responses=with_refusals(STAFF, 422)
)
def department_queue(
    staff: CurrentStaff,
    db: DbSession,
    status: Annotated[str | None, Query(max_length=200, description="Comma-separated statuses")] = None,
    form: Annotated[str | None, Query(max_length=64)] = None,
    assigned: Annotated[
        str | None, Query(max_length=64, description='"me", "none" or an officer\'s sub')
    ] = None,
    sort: Annotated[str, Query(pattern="^(oldest|newest)$")] = "oldest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The department's queue (never another department's), oldest first by default."""
    assigned_to = None
    if assigned == "me":
        assigned_to = staff.actor if staff.actor_kind == "officer" else None
    elif assigned == "none":
        assigned_to = ""
    elif assigned:
        assigned_to = assigned
    spec = repository.QueueFilter(
        department=staff.department,
        statuses=_statuses(status),
        form_slug=form,
        assigned_to=assigned_to,
        newest_first=sort == "newest",
        limit=limit,
        cursor=cursor,
    )
    try:
        rows, next_cursor = repository.queue(db, spec)
    except repository.BadCursor as exc:
        raise InvalidInput(str(exc)) from None
    return _json({"items": [queue_item(s) for s in rows], "next_cursor": next_cursor})


@department_router.get(
    "/api/department/submissions/{reference}",
    response_model=SubmissionView,
    responses=with_refusals(STAFF, 404),
)
def department_submission(
    reference: str, staff: CurrentStaff, db: DbSession, sealer: AnswerSealer
) -> JSONResponse:
    submission = submissions.get_for_department(db, staff, reference)
    return _json(submission_view(db, sealer, submission, for_resident=False))


@department_router.post(
    "/api/department/submissions/{reference}/assignment",
    response_model=SubmissionView,
    responses=with_refusals(STAFF, 404, 409, 422),
)
def department_assign(
    reference: str, body: Assignment, staff: CurrentStaff, db: DbSession, sealer: AnswerSealer, now: Now
) -> JSONResponse:
    submission = submissions.get_for_department(db, staff, reference, lock=True)
    assignee = staff.actor if body.assignee == "me" else body.assignee
    submissions.assign(db, submission, staff, assignee, now)
    return _json(submission_view(db, sealer, submission, for_resident=False))


@department_router.post(
    "/api/department/submissions/{reference}/transitions",
    response_model=SubmissionView,
    responses=with_refusals(STAFF, 404, 409, 422),
)
def department_transition(
    reference: str,
    body: DepartmentTransition,
    staff: CurrentStaff,
    db: DbSession,
    sealer: AnswerSealer,
    mailer: Outbox,
    now: Now,
) -> JSONResponse:
    """start_review, request_info (reason), approve (issues the licence of a licence
    application), reject (reason). Anything the state machine does not allow is refused."""
    submission = submissions.get_for_department(db, staff, reference, lock=True)
    decide(
        db,
        sealer,
        mailer,
        submission,
        staff,
        body.action,
        reason=body.reason,
        conditions=body.conditions,
        now=now,
    )
    return _json(submission_view(db, sealer, submission, for_resident=False))
