"""A department's decision on a case, in one transaction: the submission's transition
(:func:`forms_hub.submissions.service.department_step`), the licence that approving a licence
application issues (:func:`forms_hub.licences.service.issue_licence`), and the resident's
notification naming it. It sits above both so that neither imports the other's lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.definitions.service import document_of
from forms_hub.licences.models import Licence
from forms_hub.licences.service import issue_licence
from forms_hub.principals import Staff
from forms_hub.submissions.models import Submission
from forms_hub.submissions.outbox import Mailer
from forms_hub.submissions.records import definition_of
from forms_hub.submissions.service import department_step, notify


def decide(
    db: Session,
    sealer: Sealer,
    mailer: Mailer,
    submission: Submission,
    staff: Staff,
    action: str,
    *,
    reason: str | None,
    conditions: list[str] | None,
    now: datetime,
) -> tuple[Submission, Licence | None]:
    """Review, ask for more information, approve or reject; returns (submission, licence).

    Raises InvalidInput, IllegalTransitionError (nothing changed)."""
    reason = department_step(db, submission, staff, action, reason=reason, conditions=conditions, now=now)
    definition = definition_of(db, submission)
    licence = None
    if action == "approve" and definition.is_licence:
        licence = issue_licence(db, sealer, submission, document_of(definition), conditions or [], staff, now)
    notify(
        db,
        sealer,
        mailer,
        submission,
        definition,
        now,
        reason=reason,
        licence=licence.number if licence else None,
    )
    db.flush()
    return submission, licence
