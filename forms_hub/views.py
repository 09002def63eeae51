"""How submissions and licences look on the API and to the page templates. A submission's
view names its licence, so this sits above both the submissions and the licences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.attachments import repository as attachments
from forms_hub.attachments.service import describe
from forms_hub.crypto import Sealer
from forms_hub.i18n import notification_text
from forms_hub.licences import repository as licences
from forms_hub.licences import service as licence_service
from forms_hub.licences.models import Licence
from forms_hub.submissions import repository
from forms_hub.submissions.models import Notification, Submission, SubmissionEvent
from forms_hub.submissions.records import definition_of, open_answers


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def event_view(event: SubmissionEvent, *, for_resident: bool) -> dict[str, Any]:
    actor = event.actor if not for_resident or event.actor_kind == "resident" else None
    return {
        "at": iso(event.occurred_at),
        "action": event.action,
        "from": event.from_status,
        "to": event.to_status,
        "actor_kind": event.actor_kind,
        "actor": actor,
        "reason": event.reason if not (for_resident and event.action in ("assign", "unassign")) else None,
    }


def submission_view(
    db: Session,
    sealer: Sealer,
    submission: Submission,
    *,
    for_resident: bool,
    notice: str | None = None,
    with_details: bool = True,
) -> dict[str, Any]:
    definition = definition_of(db, submission)
    view: dict[str, Any] = {
        "id": submission.id,
        "reference": submission.reference,
        "status": submission.status,
        "form": {
            "slug": definition.slug,
            "version": definition.version,
            "title": {"en": definition.title_en, "zh-HK": definition.title_zh},
        },
        "department": submission.department,
        "created_at": iso(submission.created_at),
        "updated_at": iso(submission.updated_at),
        "submitted_at": iso(submission.submitted_at),
        "decided_at": iso(submission.decided_at),
    }
    if submission.status == "draft":
        view["draft_expires_at"] = iso(submission.draft_expires_at)
    if submission.migrated_from_version:
        view["migrated_from_version"] = submission.migrated_from_version
    if notice:
        view["notice"] = notice
    if not for_resident:
        view["assigned_to"] = submission.assigned_to
    if submission.renews_licence_id:
        renewed = licences.get(db, submission.renews_licence_id)
        view["renews_licence"] = renewed.number if renewed else None
    if not with_details:
        return view
    view["answers"] = open_answers(sealer, submission)
    view["prefill"] = submission.prefill
    view["identity_level"] = submission.identity_level
    view["attachments"] = [describe(a) for a in attachments.of_submission(db, submission.id)]
    view["history"] = [
        event_view(e, for_resident=for_resident) for e in repository.history(db, submission.id)
    ]
    if submission.receipt:
        view["receipt"] = submission.receipt
        view["answers_sha256"] = submission.answers_digest
    licence = licences.by_submission(db, submission.id) if submission.status == "approved" else None
    if licence:
        view["licence"] = licence.number
    return view


def queue_item(submission: Submission) -> dict[str, Any]:
    return {
        "reference": submission.reference,
        "form": submission.form_slug,
        "status": submission.status,
        "submitted_at": iso(submission.submitted_at),
        "updated_at": iso(submission.updated_at),
        "assigned_to": submission.assigned_to,
    }


def notification_view(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "submission_id": notification.submission_id,
        "params": notification.params,
        "text": {
            lang: notification_text(notification.kind, notification.params, lang) for lang in ("en", "zh-HK")
        },
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
    }


def licence_view(
    db: Session, sealer: Sealer, base_url: str, licence: Licence, *, holder: bool, now: datetime
) -> dict[str, Any]:
    window = licence_service.renewal_window(db, licence)
    view = licence_service.verification(db, licence.number, now)
    view.update(
        {
            "conditions": licence.conditions,
            "holder_name": licence_service.holder_name(sealer, licence),
            "status_reason": licence.status_reason,
            "issued_at": iso(licence.issued_at),
            "renewal_opens": iso(window[0]) if window else None,
            "can_renew": licence_service.can_renew(db, licence, now) if holder else None,
            "verification_url": f"{base_url}/verify/{licence.number}",
            "history": [
                {
                    "at": iso(e.occurred_at),
                    "action": e.action,
                    "from": e.from_status,
                    "to": e.to_status,
                    "reason": e.reason,
                }
                for e in licences.history(db, licence.id)
            ],
        }
    )
    return view
