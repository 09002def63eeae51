"""Licences: issued on approval of a licence application, renewed inside their renewal
window, reminded before expiry, suspended or revoked by the department, and verifiable by
anyone by number (the QR code on the licence) without revealing who holds them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.definitions import repository as definitions
from forms_hub.definitions.answers import validate_answers
from forms_hub.definitions.document import FormDocument
from forms_hub.definitions.service import document_of
from forms_hub.errors import Conflict, InvalidInput, NotFound
from forms_hub.licences import repository as licences
from forms_hub.licences.models import Licence, LicenceEvent
from forms_hub.principals import Resident, Staff
from forms_hub.submissions import numbers
from forms_hub.submissions import repository as submissions
from forms_hub.submissions.models import Notification, Submission
from forms_hub.submissions.records import create_draft, definition_of, open_answers, seal_answers

STAFF_ACTIONS = {
    "suspend": ("active", "suspended"),
    "reinstate": ("suspended", "active"),
    "revoke": ("active", "revoked"),
    "revoke_suspended": ("suspended", "revoked"),
}


def licence_prefix(department: str) -> str:
    return f"{department}L"


def public_status(licence: Licence, now: datetime) -> str:
    """valid | not_yet_valid | expired | suspended | revoked."""
    if licence.status in ("suspended", "revoked"):
        return licence.status
    if now >= licence.valid_to:
        return "expired"
    if now < licence.valid_from:
        return "not_yet_valid"
    return "valid"


def _event(
    db: Session,
    licence: Licence,
    *,
    actor_kind: str,
    actor: str,
    action: str,
    before: str | None,
    reason: str | None,
    now: datetime,
) -> None:
    db.add(
        LicenceEvent(
            licence_id=licence.id,
            occurred_at=now,
            actor_kind=actor_kind,
            actor=actor,
            action=action,
            from_status=before,
            to_status=licence.status,
            reason=reason,
        )
    )


def issue_licence(
    db: Session,
    sealer: Sealer,
    submission: Submission,
    doc: FormDocument,
    extra_conditions: list[str],
    staff: Staff,
    now: datetime,
) -> Licence:
    spec = doc.licence
    assert spec is not None
    valid_from = now
    previous = licences.get(db, submission.renews_licence_id) if submission.renews_licence_id else None
    if previous is not None and previous.status == "active" and previous.valid_to > now:
        valid_from = previous.valid_to  # a renewal continues the licence without a gap
    holder_field = spec.get("holder_field")
    holder_name = open_answers(sealer, submission).get(holder_field) if holder_field else None
    licence = Licence(
        id=uuid.uuid4().hex,
        number=numbers.new_number(db, "licence", licence_prefix(submission.department), now.year),
        submission_id=submission.id,
        department=submission.department,
        form_slug=submission.form_slug,
        licence_type=spec["type"],
        holder_sub=submission.resident_sub,
        conditions=[*spec.get("conditions", []), *(c.strip() for c in extra_conditions)],
        valid_from=valid_from,
        valid_to=valid_from + timedelta(days=spec["validity_days"]),
        status="active",
        previous_licence_id=previous.id if previous else None,
        issued_at=now,
    )
    if holder_name:
        licence.holder_name_sealed = sealer.seal(holder_name, licence.id)
    db.add(licence)
    _event(
        db,
        licence,
        actor_kind=staff.actor_kind,
        actor=staff.actor,
        action="issue",
        before=None,
        reason=None,
        now=now,
    )
    db.flush()
    return licence


def holder_name(sealer: Sealer, licence: Licence) -> str | None:
    if not licence.holder_name_sealed:
        return None
    name: str = sealer.open(licence.holder_name_sealed, licence.id)
    return name


def verification(db: Session, number: str, now: datetime) -> dict[str, Any]:
    """What anyone may learn about a licence number: status, type, issuer, validity. Never
    the holder."""
    licence = licences.by_number(db, number) if numbers.is_well_formed(number) else None
    if licence is None:
        return {"number": number, "status": "not_found"}
    spec = _spec_of(db, licence)
    return {
        "number": licence.number,
        "status": public_status(licence, now),
        "licence_type": licence.licence_type,
        "licence_name": spec["name"] if spec else {"en": licence.licence_type, "zh-HK": licence.licence_type},
        "department": licence.department,
        "valid_from": licence.valid_from.date().isoformat(),
        "valid_to": licence.valid_to.date().isoformat(),
        "checked_at": now.isoformat().replace("+00:00", "Z"),
    }


def _spec_of(db: Session, licence: Licence) -> dict[str, Any] | None:
    submission = db.get(Submission, licence.submission_id)
    return document_of(definition_of(db, submission)).licence if submission else None


def renewal_window(db: Session, licence: Licence) -> tuple[datetime, datetime] | None:
    spec = _spec_of(db, licence)
    if spec is None:
        return None
    return licence.valid_to - timedelta(days=spec["renewal_window_days"]), licence.valid_to


def can_renew(db: Session, licence: Licence, now: datetime) -> bool:
    window = renewal_window(db, licence)
    return (
        window is not None
        and licence.status == "active"
        and window[0] <= now < window[1]
        and submissions.renewal_in_progress(db, licence.id) is None
    )


def start_renewal(
    db: Session, sealer: Sealer, draft_ttl: timedelta, resident: Resident, number: str, now: datetime
) -> Submission:
    """A new draft of the form's current version, answers copied from the application
    that issued the licence (attachments are not: they are supplied afresh); approving it
    issues a licence that continues this one."""
    licence = licences.by_number(db, number) if numbers.is_well_formed(number) else None
    if licence is None or licence.holder_sub != resident.sub:
        raise NotFound("No such licence.")
    pending = submissions.renewal_in_progress(db, licence.id)
    if pending is not None:
        raise Conflict("A renewal of this licence is already in progress.", submission_id=pending.id)
    window = renewal_window(db, licence)
    if window is None or licence.status != "active" or not window[0] <= now < window[1]:
        opens = window[0].date().isoformat() if window else "?"
        raise Conflict(f"This licence can be renewed from {opens} until it expires.")
    original = db.get(Submission, licence.submission_id)
    assert original is not None  # a foreign key
    draft = create_draft(
        db, sealer, draft_ttl, resident, licence.form_slug, {}, now, renews_licence_id=licence.id
    )
    doc = document_of(definition_of(db, draft))
    carried = {
        k: v
        for k, v in open_answers(sealer, original).items()
        if k in doc.fields and not validate_answers(doc, {k: v}, complete=False)
    }
    seal_answers(sealer, draft, carried)
    db.flush()
    return draft


def staff_action(
    db: Session, licence: Licence, staff: Staff, action: str, reason: str | None, now: datetime
) -> Licence:
    if licence.department != staff.department:
        raise NotFound("No licence with this number in your department.")
    key = "revoke_suspended" if action == "revoke" and licence.status == "suspended" else action
    if key not in STAFF_ACTIONS:
        raise InvalidInput("action must be suspend, reinstate or revoke.")
    source, target = STAFF_ACTIONS[key]
    if licence.status != source:
        raise Conflict(f"cannot {action} a licence that is {licence.status}")
    text = (reason or "").strip()
    if not text or len(text) > 2000:
        raise InvalidInput("Give a reason (at most 2000 characters).")
    before = licence.status
    licence.status = target
    licence.status_reason = text
    _event(
        db,
        licence,
        actor_kind=staff.actor_kind,
        actor=staff.actor,
        action=action,
        before=before,
        reason=text,
        now=now,
    )
    db.add(
        Notification(
            resident_sub=licence.holder_sub,
            licence_id=licence.id,
            kind="licence_status",
            params={"licence": licence.number, "status": target, "reason": text},
            created_at=now,
        )
    )
    db.flush()
    return licence


def send_expiry_reminders(db: Session, now: datetime) -> int:
    """Notify holders whose licence expires within its reminder period (default: the
    renewal window); each licence is reminded once. Run daily (`egate forms remind`)."""
    longest = max(
        (
            d.document["licence"].get("reminder_days") or d.document["licence"]["renewal_window_days"]
            for d in definitions.list_versions(db)
            if d.is_licence
        ),
        default=0,
    )
    sent = 0
    for licence in licences.expiring_unreminded(db, now + timedelta(days=longest), now):
        spec = _spec_of(db, licence) or {}
        days = spec.get("reminder_days") or spec.get("renewal_window_days", 30)
        if licence.valid_to - timedelta(days=days) > now:
            continue
        licence.reminded_at = now
        db.add(
            Notification(
                resident_sub=licence.holder_sub,
                licence_id=licence.id,
                kind="licence_expiring",
                params={"licence": licence.number, "valid_to": licence.valid_to.date().isoformat()},
                created_at=now,
            )
        )
        sent += 1
    db.flush()
    return sent
