"""A submission record's basics: its sealed answers, its form definition, its history,
whether it may still change, and a new draft. The lifecycle (:mod:`.service`), a
submission's files (:mod:`.files`) and the licences (:mod:`forms_hub.licences`) build on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.definitions import repository as definitions
from forms_hub.definitions.answers import validate_answers
from forms_hub.definitions.models import FormDefinition
from forms_hub.definitions.service import document_of
from forms_hub.errors import Conflict, DraftExpired, InvalidAnswers, NotFound
from forms_hub.principals import Resident
from forms_hub.submissions.models import Submission, SubmissionEvent
from kit.i18n import N_

EDITABLE_STATUSES = ("draft", "info_requested")


def open_answers(sealer: Sealer, submission: Submission) -> dict[str, Any]:
    answers: dict[str, Any] = sealer.open(submission.answers_sealed, submission.id)
    return answers


def seal_answers(sealer: Sealer, submission: Submission, answers: Mapping[str, Any]) -> None:
    """Replace the answers, sealed at rest and bound to this submission's id."""
    submission.answers_sealed = sealer.seal(dict(answers), submission.id)


def definition_of(db: Session, submission: Submission) -> FormDefinition:
    definition = definitions.get(db, submission.definition_id)
    assert definition is not None  # a foreign key
    return definition


def draft_is_live(submission: Submission, now: datetime) -> bool:
    return submission.draft_expires_at is None or submission.draft_expires_at > now


def ensure_editable(submission: Submission, now: datetime) -> None:
    """Raises Conflict (not a draft nor asked for more information) or DraftExpired."""
    if submission.status not in EDITABLE_STATUSES:
        raise Conflict(
            N_("A submission that is %(status)s cannot be changed."), values={"status": submission.status}
        )
    if submission.status == "draft" and not draft_is_live(submission, now):
        raise DraftExpired(N_("This draft has expired."))


def record_event(
    db: Session,
    submission: Submission,
    *,
    actor_kind: str,
    actor: str,
    action: str,
    from_status: str | None,
    reason: str | None,
    now: datetime,
) -> None:
    db.add(
        SubmissionEvent(
            submission_id=submission.id,
            occurred_at=now,
            actor_kind=actor_kind,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=submission.status,
            reason=reason,
        )
    )


def published_definition(db: Session, slug: str) -> FormDefinition:
    definition = definitions.published(db, slug) if isinstance(slug, str) and len(slug) <= 64 else None
    if definition is None:
        raise NotFound(N_("There is no published form %(form)s."), values={"form": slug})
    return definition


def create_draft(
    db: Session,
    sealer: Sealer,
    draft_ttl: timedelta,
    resident: Resident,
    slug: str,
    answers: Mapping[str, Any] | None,
    now: datetime,
    *,
    renews_licence_id: str | None = None,
) -> Submission:
    definition = published_definition(db, slug)
    doc = document_of(definition)
    answers = dict(answers or {})
    errors = validate_answers(doc, answers, complete=False)
    if errors:
        raise InvalidAnswers(N_("Some answers are not valid."), errors=[e.as_json() for e in errors])
    submission = Submission(
        id=uuid.uuid4().hex,
        definition_id=definition.id,
        form_slug=definition.slug,
        department=definition.department,
        resident_sub=resident.sub,
        status="draft",
        prefill={},
        renews_licence_id=renews_licence_id,
        created_at=now,
        updated_at=now,
        draft_expires_at=now + draft_ttl,
    )
    seal_answers(sealer, submission, answers)
    db.add(submission)
    record_event(
        db,
        submission,
        actor_kind="resident",
        actor=resident.sub,
        action="create",
        from_status=None,
        reason=None,
        now=now,
    )
    db.flush()
    return submission
