"""The submission lifecycle: drafts, submission with its reference number, receipt and
ledger entry, the department's transitions and the resident's withdrawal. Services never
commit: the request or command that calls them owns the transaction.

A department's decision that also issues a licence is :mod:`forms_hub.decisions`, above
this module and the licences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.assurance import IN_PERSON, assurance_of, level_satisfies
from forms_hub.attachments import repository as attachments_repository
from forms_hub.attachments.models import Attachment
from forms_hub.attachments.storage import AttachmentStorage
from forms_hub.config import FormsConfig
from forms_hub.crypto import Sealer
from forms_hub.definitions import repository as definitions
from forms_hub.definitions.answers import answers_digest, prefill_mismatch, validate_answers
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.models import FormDefinition
from forms_hub.definitions.service import document_of
from forms_hub.errors import (
    AlreadySubmitted,
    Conflict,
    DraftExpired,
    FormNotOpen,
    IdempotencyKeyReused,
    IdentityLevelRequired,
    IllegalTransitionError,
    InvalidAnswers,
    InvalidInput,
    NotFound,
    PrefillRecheckNeeded,
)
from forms_hub.oidc_client.service import own_client_id
from forms_hub.ports import CHANNEL_FORM_SUBMISSION, DisclosureRecorder
from forms_hub.principals import Officer, Resident, Staff
from forms_hub.submissions import flows, numbers
from forms_hub.submissions import repository as submissions
from forms_hub.submissions.files import add_attachment
from forms_hub.submissions.models import Notification, Submission
from forms_hub.submissions.outbox import Mailer
from forms_hub.submissions.receipts import ReceiptSigner
from forms_hub.submissions.records import (
    create_draft,
    definition_of,
    draft_is_live,
    ensure_editable,
    open_answers,
    record_event,
    seal_answers,
)
from kit.i18n import N_, bilingual

MAX_REASON_LENGTH = 2000
NOTICE_NEWER_VERSION = "newer_version"
NOTICE_MIGRATED = "migrated"
NOTICE_FORM_CLOSED = "form_closed"


# -- small helpers ------------------------------------------------------------------------


def notify(
    db: Session,
    sealer: Sealer,
    mailer: Mailer,
    submission: Submission,
    definition: FormDefinition,
    now: datetime,
    **params: Any,
) -> None:
    """The resident's notification of a status change, and an email when the form names an
    answer holding the resident's address (``notify_email_field``)."""
    params = {
        "reference": submission.reference,
        "status": submission.status,
        "title": {"en": definition.title_en, "zh-HK": definition.title_zh},
        **params,
    }
    db.add(
        Notification(
            resident_sub=submission.resident_sub,
            submission_id=submission.id,
            kind="status_changed",
            params=params,
            created_at=now,
        )
    )
    email_field = document_of(definition).raw.get("notify_email_field")
    address = open_answers(sealer, submission).get(email_field) if email_field else None
    if isinstance(address, str) and "@" in address:
        mailer.queue(db, address, "status_changed", params, f"/submissions/{submission.id}", now)


def _check_reason(reason: str | None, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput(N_("Give a reason."), errors=[{"field": "reason", "code": "required"}])
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(
            N_("The reason must be %(limit)s characters or fewer."), values={"limit": MAX_REASON_LENGTH}
        )
    return text or None


# -- reading ------------------------------------------------------------------------------


def get_own(
    db: Session, resident: Resident, submission_id: str, now: datetime, *, lock: bool = False
) -> Submission:
    """The resident's own submission; another's, or an expired draft, is "not found"."""
    submission = submissions.get(db, submission_id, for_update=lock)
    if submission is None or submission.resident_sub != resident.sub:
        raise NotFound(N_("No such submission."))
    if submission.status == "draft" and not draft_is_live(submission, now):
        raise NotFound(N_("This draft has expired and was removed."))
    return submission


def get_for_department(db: Session, staff: Staff, reference: str, *, lock: bool = False) -> Submission:
    submission = (
        submissions.by_reference(db, reference, for_update=lock)
        if numbers.is_well_formed(reference)
        else None
    )
    if submission is None or submission.department != staff.department:
        raise NotFound(N_("No submission with this reference in your department's queue."))
    return submission


# -- drafts -------------------------------------------------------------------------------


def bring_up_to_date(
    db: Session, sealer: Sealer, superseded_grace: timedelta, submission: Submission, now: datetime
) -> str | None:
    """A draft on a version that is no longer published: may still be submitted on its own
    version during the grace period (notice ``newer_version``); after that it is moved to
    the published version, keeping the answers the new version still asks for (notice
    ``migrated``). ``form_closed``: the form is retired."""
    if submission.status != "draft":
        return None
    definition = definition_of(db, submission)
    if definition.status == "published":
        return None
    latest = definitions.published(db, submission.form_slug)
    if latest is None:
        return NOTICE_FORM_CLOSED
    if definition.superseded_at and now < definition.superseded_at + superseded_grace:
        return NOTICE_NEWER_VERSION
    new_doc = document_of(latest)
    answers = {k: v for k, v in open_answers(sealer, submission).items() if k in new_doc.fields}
    submission.prefill = {
        k: v
        for k, v in submission.prefill.items()
        if new_doc.fields.get(k) and new_doc.prefill.get(k) == v["claim"]
    }
    answers = {k: v for k, v in answers.items() if not validate_answers_one(new_doc, k, v)}
    for attachment in attachments_repository.of_submission(db, submission.id):
        if new_doc.attachment(attachment.slot) is None:
            db.delete(attachment)
    submission.migrated_from_version = definition.version
    submission.definition_id = latest.id
    submission.updated_at = now
    seal_answers(sealer, submission, answers)
    record_event(
        db,
        submission,
        actor_kind="system",
        actor="forms-hub",
        action="migrate",
        from_status="draft",
        reason=f"moved from version {definition.version} to version {latest.version}",
        now=now,
    )
    db.flush()
    return NOTICE_MIGRATED


def validate_answers_one(doc: FormDocument, name: str, value: Any) -> bool:
    """True when this one answer is malformed under ``doc`` (dropped when migrating)."""
    return any(e.field == name for e in validate_answers(doc, {name: value}, complete=False))


def save_answers(
    db: Session,
    sealer: Sealer,
    draft_ttl: timedelta,
    submission: Submission,
    answers: Mapping[str, Any],
    now: datetime,
) -> Submission:
    """Replace the answers of a draft (or of a submission the department asked more
    information about). Verified prefilled answers are read-only."""
    ensure_editable(submission, now)
    doc = document_of(definition_of(db, submission))
    answers = dict(answers)
    errors = validate_answers(doc, answers, complete=False)
    before = open_answers(sealer, submission)
    for name, meta in submission.prefill.items():
        if meta.get("verified") and answers.get(name) != before.get(name):
            errors = [e for e in errors if e.field != name] + [prefill_mismatch(doc, name)]
    if errors:
        raise InvalidAnswers(N_("Some answers are not valid."), errors=[e.as_json() for e in errors])
    seal_answers(sealer, submission, answers)
    submission.updated_at = now
    if submission.status == "draft":
        submission.draft_expires_at = now + draft_ttl
    db.flush()
    return submission


def discard_draft(db: Session, storage: AttachmentStorage, submission: Submission) -> None:
    if submission.status != "draft":
        raise Conflict(N_("Only a draft can be discarded; withdraw a submission instead."))
    for attachment in attachments_repository.of_submission(db, submission.id):
        storage.delete(attachment.storage_key)
    db.delete(submission)
    db.flush()


def purge_expired_drafts(db: Session, storage: AttachmentStorage, now: datetime) -> int:
    purged = 0
    for submission in submissions.expired_drafts(db, now):
        discard_draft(db, storage, submission)
        purged += 1
    return purged


# -- submitting ---------------------------------------------------------------------------


def verified_prefill(submission: Submission) -> dict[str, str]:
    """field -> claim of the answers prefilled from verified identity data."""
    return {name: meta["claim"] for name, meta in submission.prefill.items() if meta.get("verified")}


def needs_identity_release(db: Session, submission: Submission) -> bool:
    """Whether submitting needs a fresh identity release: verified answers to re-check, or a
    form that needs an identity level."""
    if verified_prefill(submission):
        return True
    return document_of(definition_of(db, submission)).min_identity_level is not None


def identity_level_required(required: str, shown: str | None) -> IdentityLevelRequired:
    """The refusal of a form that needs identity level ``required``; ``shown``: the level the
    resident's identity release showed (None: none has shown it)."""
    needed = "proofed in person" if required == IN_PERSON else "proofed remotely or in person"
    where = (
        "in person at a registration counter"
        if required == IN_PERSON
        else "remotely on the identity provider's /account/identity page, or in person at a "
        "registration counter"
    )
    if shown is None:
        detail = (
            f"This form needs an identity {needed} (identity level {required!r} or higher). Fill it "
            "from your identity first, so that your identity provider confirms your level."
        )
    else:
        detail = (
            f"This form needs an identity {needed} (identity level {required!r} or higher); your "
            f"identity release shows {shown!r}. Have your identity proofed {where}, then fill the "
            "form from your identity again."
        )
    return IdentityLevelRequired(detail, required_level=required, identity_level=shown)


def _identity_errors(
    doc: FormDocument,
    submission: Submission,
    answers: Mapping[str, Any],
    fresh_claims: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The identity checks of a submission against a fresh release: the form's identity level,
    and every verified answer against the release's ``verified_claims`` (never its ordinary
    claims). Returns the answers that differ; records the level the release shows.

    Raises:
        IdentityLevelRequired: the form needs a level the release does not show.
        PrefillRecheckNeeded: verified answers, and no release to check them against.
    """
    verified = verified_prefill(submission)
    required = doc.min_identity_level
    if not verified and required is None:
        return []
    if fresh_claims is None:
        if required is not None:
            known = submission.identity_level
            raise identity_level_required(required, None if level_satisfies(known, required) else known)
        raise PrefillRecheckNeeded(
            N_("The details filled from your identity must be checked again before submitting.")
        )
    assurance = assurance_of(fresh_claims)
    if not level_satisfies(assurance.level, required):
        raise identity_level_required(str(required), assurance.level)
    submission.identity_level = assurance.level
    return [
        prefill_mismatch(doc, name).as_json()
        for name, claim in verified.items()
        if answers.get(name) != assurance.verified_value(claim)
    ]


def missing_for_submit(
    db: Session, doc: FormDocument, submission: Submission, answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What submitting these answers would also refuse (missing answers, an unticked
    declaration, missing attachments): shown with the malformed answers, all at once."""
    attachments = attachments_repository.of_submission(db, submission.id)
    return _completeness_errors(doc, attachments, answers)


def _completeness_errors(
    doc: FormDocument, attachments: list[Attachment], answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    errors = [e.as_json() for e in validate_answers(doc, answers, complete=True)]
    attached = {a.slot for a in attachments}
    for slot in doc.attachments:
        if slot.get("required") and slot["name"] not in attached:
            label = slot["label"]
            errors.append(
                {
                    "field": slot["name"],
                    "code": "required",
                    "message": bilingual(N_("Attach {label}"), label=label),
                }
            )
    return errors


def _hand_over(
    db: Session,
    disclosures: DisclosureRecorder,
    submission: Submission,
    doc: FormDocument,
    definition: FormDefinition,
    answers: Mapping[str, Any],
    attachments: list[Attachment],
    request_id: str,
    now: datetime,
) -> None:
    """Record in the disclosure ledger that these answers went to the department."""
    attached = {a.slot for a in attachments}
    fields = sorted({*answers.keys(), *(f"attachment:{slot}" for slot in attached)})
    if not fields:
        return
    disclosures.record(
        db,
        resident_sub=submission.resident_sub,
        client_id=own_client_id(db),
        department=submission.department,
        channel=CHANNEL_FORM_SUBMISSION,
        fields=fields,
        purpose=doc.purpose["en"],
        legal_basis=doc.legal_basis
        or f"Application made by the resident ({definition.slug} v{definition.version})",
        request_id=request_id,
        now=now,
        texts=disclosure_texts(doc, definition.version, fields),
    )


def disclosure_texts(doc: FormDocument, version: int, fields: Sequence[str]) -> dict[str, Any]:
    """What the resident's disclosure record shows for a hand-over, in both languages: the
    form's purpose, each answer or file by its label on the form and, for a form without a
    legal basis of its own, the application itself (by the form's title, not its slug)."""
    labels: dict[str, dict[str, str]] = {}
    for name in fields:
        if name.startswith("attachment:"):
            slot = doc.attachment(name.removeprefix("attachment:"))
            label = slot.get("label") if slot else None
        else:
            field = doc.fields.get(name)
            label = field.label if field else None
        if label:
            labels[name] = {"en": label.get("en", name), "zh-HK": label.get("zh-HK", name)}
    texts: dict[str, Any] = {"purpose": doc.purpose, "fields": labels}
    if not doc.legal_basis:  # a form's own legal basis is written in one language only
        title = doc.title
        texts["legal_basis"] = bilingual(
            N_("Application made by the resident ({title}, version {version})"), title=title, version=version
        )
    return texts


def submit(
    db: Session,
    submission: Submission,
    resident: Resident,
    *,
    config: FormsConfig,
    sealer: Sealer,
    receipts: ReceiptSigner,
    disclosures: DisclosureRecorder,
    mailer: Mailer,
    idempotency_key: str | None,
    fingerprint: str | None,
    fresh_claims: Mapping[str, Any] | None,
    request_id: str,
    now: datetime,
    key_checked: bool = False,
) -> tuple[Submission, bool]:
    """Submit a draft; returns it and whether this was a replay of an earlier submit.
    ``key_checked``: the caller already made sure no other submission has this key.

    ``fresh_claims``: a fresh userinfo release, for the identity checks (a form that needs
    an identity level, verified answers); None: there is none.

    Raises:
        AlreadySubmitted, DraftExpired, FormNotOpen, Conflict (draft migrated),
        InvalidAnswers, PrefillRecheckNeeded, IdentityLevelRequired, IdempotencyKeyReused.
    """
    if submission.status != "draft":
        if idempotency_key and submission.idempotency_key == idempotency_key:
            return submission, True
        raise AlreadySubmitted(
            N_("This was already submitted as %(reference)s."),
            values={"reference": submission.reference},
            reference=submission.reference,
        )
    if idempotency_key and not key_checked:
        other = submissions.by_idempotency_key(db, resident.sub, idempotency_key)
        if other is not None and other.id != submission.id:
            raise IdempotencyKeyReused(N_("This Idempotency-Key was used for another submission."))
    if not draft_is_live(submission, now):
        raise DraftExpired(N_("This draft has expired."))
    notice = bring_up_to_date(db, sealer, config.superseded_grace, submission, now)
    if notice == NOTICE_FORM_CLOSED:
        raise FormNotOpen(N_("This form is no longer open for submissions."))
    if notice == NOTICE_MIGRATED:
        raise Conflict(
            N_(
                "This form has a new version and your draft was moved to it: check your answers, then submit."
            ),
            notice=NOTICE_MIGRATED,
        )
    definition = definition_of(db, submission)
    doc = document_of(definition)
    answers = open_answers(sealer, submission)
    attachments = attachments_repository.of_submission(db, submission.id)
    errors = _identity_errors(doc, submission, answers, fresh_claims)
    errors = _completeness_errors(doc, attachments, answers) + errors
    if errors:
        raise InvalidAnswers(N_("Some answers are not valid."), errors=errors)
    reference = numbers.new_number(db, "submission", submission.department, now.year)
    digest = answers_digest(answers, [(a.slot, a.sha256) for a in attachments])
    submission.receipt = receipts.sign(
        {
            "jti": submission.id,
            "iat": int(now.timestamp()),
            "reference": reference,
            "department": submission.department,
            "form": {"slug": definition.slug, "version": definition.version, "title": doc.title},
            "submitted_at": now.isoformat().replace("+00:00", "Z"),
            "answers_sha256": digest,
            "attachments": [{"name": a.slot, "sha256": a.sha256, "size": a.size} for a in attachments],
        }
    )
    submission.reference = reference
    submission.answers_digest = digest
    submission.status = "submitted"
    submission.submitted_at = now
    submission.updated_at = now
    submission.draft_expires_at = None
    submission.idempotency_key = idempotency_key
    submission.request_fingerprint = fingerprint
    record_event(
        db,
        submission,
        actor_kind="resident",
        actor=resident.sub,
        action="submit",
        from_status="draft",
        reason=None,
        now=now,
    )
    notify(db, sealer, mailer, submission, definition, now)
    _hand_over(db, disclosures, submission, doc, definition, answers, attachments, request_id, now)
    db.flush()
    return submission, False


def submit_new(
    db: Session,
    resident: Resident,
    slug: str,
    answers: Mapping[str, Any],
    *,
    config: FormsConfig,
    sealer: Sealer,
    storage: AttachmentStorage,
    receipts: ReceiptSigner,
    disclosures: DisclosureRecorder,
    mailer: Mailer,
    idempotency_key: str,
    fingerprint: str,
    request_id: str,
    now: datetime,
    files: Sequence[tuple[str, str | None, bytes]] = (),
) -> tuple[Submission, bool]:
    """Create and submit in one call (the API), with the files (slot, file name, bytes). A
    retry with the same Idempotency-Key and the same request returns the first result;
    with another request it is refused."""
    existing = submissions.by_idempotency_key(db, resident.sub, idempotency_key)
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(N_("This Idempotency-Key was used with a different request."))
        return existing, True
    draft = create_draft(db, sealer, config.draft_ttl, resident, slug, answers, now)
    for slot, filename, data in files:
        add_attachment(
            db, storage, draft, slot, filename, data, now, max_image_pixels=config.max_image_pixels
        )
    return submit(
        db,
        draft,
        resident,
        config=config,
        sealer=sealer,
        receipts=receipts,
        disclosures=disclosures,
        mailer=mailer,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        fresh_claims=None,
        request_id=request_id,
        now=now,
        key_checked=True,
    )


# -- transitions after submission ---------------------------------------------------------


def _move(
    db: Session,
    submission: Submission,
    action: str,
    actor: str,
    *,
    actor_kind: str,
    actor_id: str,
    reason: str | None,
    now: datetime,
) -> tuple[str, str | None]:
    try:
        step = flows.transition(submission.status, action, actor)
    except flows.IllegalTransition:
        raise IllegalTransitionError(
            N_("This cannot be done to a submission that is %(status)s."),
            values={"status": submission.status},
            current_status=submission.status,
            action=action,
        ) from None
    reason = _check_reason(reason, step.reason_required)
    before = submission.status
    submission.status = step.target
    submission.updated_at = now
    if step.target in flows.DECIDED:
        submission.decided_at = now
    record_event(
        db,
        submission,
        actor_kind=actor_kind,
        actor=actor_id,
        action=action,
        from_status=before,
        reason=reason,
        now=now,
    )
    return before, reason


def withdraw(
    db: Session,
    sealer: Sealer,
    mailer: Mailer,
    submission: Submission,
    resident: Resident,
    reason: str | None,
    now: datetime,
) -> Submission:
    _, reason = _move(
        db,
        submission,
        "withdraw",
        flows.RESIDENT,
        actor_kind="resident",
        actor_id=resident.sub,
        reason=reason,
        now=now,
    )
    notify(db, sealer, mailer, submission, definition_of(db, submission), now, reason=reason)
    db.flush()
    return submission


def resubmit(
    db: Session,
    submission: Submission,
    resident: Resident,
    *,
    config: FormsConfig,
    sealer: Sealer,
    disclosures: DisclosureRecorder,
    mailer: Mailer,
    answers: Mapping[str, Any] | None,
    note: str | None,
    request_id: str,
    now: datetime,
) -> Submission:
    """The resident answers a request for more information and sends the case back."""
    if submission.status != "info_requested":
        raise IllegalTransitionError(
            N_("This cannot be done to a submission that is %(status)s."),
            values={"status": submission.status},
            status=submission.status,
            action="resubmit",
        )
    if answers is not None:
        save_answers(db, sealer, config.draft_ttl, submission, answers, now)
    definition = definition_of(db, submission)
    doc = document_of(definition)
    current = open_answers(sealer, submission)
    attachments = attachments_repository.of_submission(db, submission.id)
    errors = _completeness_errors(doc, attachments, current)
    if errors:
        raise InvalidAnswers(N_("Some answers are not valid."), errors=errors)
    submission.answers_digest = answers_digest(current, [(a.slot, a.sha256) for a in attachments])
    _move(
        db,
        submission,
        "resubmit",
        flows.RESIDENT,
        actor_kind="resident",
        actor_id=resident.sub,
        reason=note,
        now=now,
    )
    notify(db, sealer, mailer, submission, definition, now)
    _hand_over(db, disclosures, submission, doc, definition, current, attachments, request_id, now)
    db.flush()
    return submission


def assign(
    db: Session, submission: Submission, staff: Staff, assignee: str | None, now: datetime
) -> Submission:
    """An officer takes a case (assignee = themselves) or hands it back (None); a back-end
    system may assign any officer of its department."""
    if submission.status in flows.DECIDED:
        raise Conflict(
            N_("A submission that is %(status)s cannot be assigned."), values={"status": submission.status}
        )
    if isinstance(staff, Officer) and assignee not in (None, staff.sub):
        raise InvalidInput(N_("An officer can only assign a case to themselves."))
    if assignee is not None and (not isinstance(assignee, str) or not 0 < len(assignee) <= 64):
        raise InvalidInput(N_("The assignee must be an officer's identifier."))
    submission.assigned_to = assignee
    submission.updated_at = now
    record_event(
        db,
        submission,
        actor_kind=staff.actor_kind,
        actor=staff.actor,
        action="assign" if assignee else "unassign",
        from_status=submission.status,
        reason=assignee,
        now=now,
    )
    db.flush()
    return submission


def department_step(
    db: Session,
    submission: Submission,
    staff: Staff,
    action: str,
    *,
    reason: str | None,
    conditions: list[str] | None,
    now: datetime,
) -> str | None:
    """Review, ask for more information, approve or reject: the transition and its history
    row; returns the reason as recorded. The notification (and the licence an approval
    issues) is :func:`forms_hub.decisions.decide`'s, in the same transaction."""
    if action not in flows.DEPARTMENT_ACTIONS:
        raise InvalidInput(
            N_("The action must be one of %(actions)s."),
            values={"actions": ", ".join(flows.DEPARTMENT_ACTIONS)},
        )
    if conditions is not None and (
        not isinstance(conditions, list)
        or any(not isinstance(c, str) or not c.strip() or len(c) > 500 for c in conditions)
    ):
        raise InvalidInput(N_("The conditions must be a list of non-empty texts of at most 500 characters."))
    _, reason = _move(
        db,
        submission,
        action,
        flows.DEPARTMENT,
        actor_kind=staff.actor_kind,
        actor_id=staff.actor,
        reason=reason,
        now=now,
    )
    if action == "start_review" and submission.assigned_to is None and isinstance(staff, Officer):
        submission.assigned_to = staff.sub
    return reason
