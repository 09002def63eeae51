"""Every query on submissions, their history and the resident's notifications."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session, load_only

from forms_hub.submissions.models import Notification, Submission, SubmissionEvent


def get(db: Session, submission_id: str, *, for_update: bool = False) -> Submission | None:
    if not submission_id or len(submission_id) > 32:
        return None
    query = select(Submission).where(Submission.id == submission_id)
    if for_update:
        query = query.with_for_update()
    return db.scalar(query)


def by_reference(db: Session, reference: str, *, for_update: bool = False) -> Submission | None:
    query = select(Submission).where(Submission.reference == reference)
    if for_update:
        query = query.with_for_update()
    return db.scalar(query)


def by_idempotency_key(db: Session, resident_sub: str, key: str) -> Submission | None:
    return db.scalar(
        select(Submission).where(Submission.resident_sub == resident_sub, Submission.idempotency_key == key)
    )


def for_resident(db: Session, resident_sub: str, now: datetime, limit: int = 200) -> list[Submission]:
    live = or_(Submission.status != "draft", Submission.draft_expires_at > now)
    return list(
        db.scalars(
            select(Submission)
            .where(Submission.resident_sub == resident_sub, live)
            .order_by(Submission.updated_at.desc())
            .limit(limit)
        )
    )


def renewal_in_progress(db: Session, licence_id: str) -> Submission | None:
    return db.scalar(
        select(Submission).where(
            Submission.renews_licence_id == licence_id,
            Submission.status.not_in(("rejected", "withdrawn")),
        )
    )


def history(db: Session, submission_id: str) -> list[SubmissionEvent]:
    return list(
        db.scalars(
            select(SubmissionEvent)
            .where(SubmissionEvent.submission_id == submission_id)
            .order_by(SubmissionEvent.id)
        )
    )


def expired_drafts(db: Session, now: datetime, limit: int = 1000) -> list[Submission]:
    return list(
        db.scalars(
            select(Submission)
            .where(Submission.status == "draft", Submission.draft_expires_at <= now)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class QueueFilter:
    department: str
    statuses: tuple[str, ...] = ()
    form_slug: str | None = None
    assigned_to: str | None = None  # an officer's sub, or "" for unassigned
    newest_first: bool = False
    limit: int = 50
    cursor: str | None = None


class BadCursor(ValueError):
    pass


def encode_cursor(submission: Submission) -> str:
    assert submission.submitted_at is not None  # the queue holds no drafts
    raw = json.dumps([submission.submitted_at.isoformat(), submission.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, submission_id = json.loads(raw)
        return datetime.fromisoformat(moment), str(submission_id)
    except (ValueError, TypeError):
        raise BadCursor("the cursor is not one this API gave out") from None


def queue(db: Session, spec: QueueFilter) -> tuple[list[Submission], str | None]:
    """One page of a department's queue (never drafts), ordered by submission time, with
    keyset pagination: the cost of a page does not grow with the queue's length."""
    columns = load_only(
        Submission.id,
        Submission.reference,
        Submission.form_slug,
        Submission.status,
        Submission.submitted_at,
        Submission.updated_at,
        Submission.assigned_to,
        raiseload=True,
    )
    query = (
        select(Submission)
        .options(columns)
        .where(Submission.department == spec.department, Submission.submitted_at.is_not(None))
    )
    if spec.statuses:
        query = query.where(Submission.status.in_(spec.statuses))
    if spec.form_slug:
        query = query.where(Submission.form_slug == spec.form_slug)
    if spec.assigned_to is not None:
        query = query.where(
            Submission.assigned_to.is_(None)
            if spec.assigned_to == ""
            else Submission.assigned_to == spec.assigned_to
        )
    if spec.cursor:
        moment, last_id = _decode_cursor(spec.cursor)
        if spec.newest_first:
            after = or_(
                Submission.submitted_at < moment,
                and_(Submission.submitted_at == moment, Submission.id < last_id),
            )
        else:
            after = or_(
                Submission.submitted_at > moment,
                and_(Submission.submitted_at == moment, Submission.id > last_id),
            )
        query = query.where(after)
    if spec.newest_first:
        query = query.order_by(Submission.submitted_at.desc(), Submission.id.desc())
    else:
        query = query.order_by(Submission.submitted_at, Submission.id)
    rows = list(db.scalars(query.limit(spec.limit + 1)))
    more = len(rows) > spec.limit
    rows = rows[: spec.limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def notifications(db: Session, resident_sub: str, limit: int = 100) -> list[Notification]:
    return list(
        db.scalars(
            select(Notification)
            .where(Notification.resident_sub == resident_sub)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def mark_notifications_read(
    db: Session, resident_sub: str, now: datetime, ids: list[int] | None = None
) -> int:
    query = update(Notification).where(
        Notification.resident_sub == resident_sub, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    # An UPDATE's result is a CursorResult, which counts the rows.
    result = cast(CursorResult[Any], db.execute(query.values(read_at=now)))
    return result.rowcount or 0
