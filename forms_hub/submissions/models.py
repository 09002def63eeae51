"""Submissions (a draft is a submission not yet submitted), their history, reference
number counters and the resident's notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class Submission(Base):
    __tablename__ = "forms_submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("forms_definitions.id"))
    form_slug: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(16))
    resident_sub: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    # AES-GCM sealed JSON object of the answers (forms_hub.crypto.Sealer, aad = id).
    answers_sealed: Mapped[str] = mapped_column(Text)
    answers_digest: Mapped[str | None] = mapped_column(String(64))
    # field -> {"claim", "verified", "assurance_level"[, "trust_framework", "verified_at"]}:
    # which answers came from the identity, and whether inside verified_claims.
    prefill: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The identity level the latest identity release for this submission showed
    # (forms_hub.assurance.IDENTITY_LEVELS); None until a release asked for it.
    identity_level: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    renews_licence_id: Mapped[str | None] = mapped_column(String(32))
    migrated_from_version: Mapped[int | None]
    receipt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    draft_expires_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("resident_sub", "idempotency_key"),
        Index("ix_forms_submissions_resident", "resident_sub", "updated_at"),
        Index("ix_forms_submissions_queue_status", "department", "status", "submitted_at", "id"),
        Index("ix_forms_submissions_queue", "department", "submitted_at", "id"),
        Index("ix_forms_submissions_draft_expiry", "status", "draft_expires_at"),
    )


class SubmissionEvent(Base):
    """One row per transition (and per assignment): who, when, from, to, why."""

    __tablename__ = "forms_submission_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("forms_submissions.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(24))  # resident | officer | department_system | system
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_forms_submission_events_submission", "submission_id", "id"),)


class NumberCounter(Base):
    """The last sequence number given out per scope (e.g. ``submission:FEHD:2025``)."""

    __tablename__ = "forms_number_counters"

    scope: Mapped[str] = mapped_column(String(48), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class Notification(Base):
    """An entry of the resident's notification list; the text is rendered from ``kind``
    and ``params`` in the reader's language."""

    __tablename__ = "forms_notifications"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resident_sub: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("forms_submissions.id", ondelete="CASCADE"))
    licence_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_forms_notifications_resident", "resident_sub", "id"),)


class OutboxMessage(Base):
    """An email about a status change, written in the same transaction as the change (so it
    is never lost) and sent later by `egate forms outbox`. Address and body are sealed."""

    __tablename__ = "forms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    recipient_sealed: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    body_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_forms_outbox_pending", "sent_at", "id"),)
