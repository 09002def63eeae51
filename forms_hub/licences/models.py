"""Licences issued when a licence application is approved, and their status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base

LICENCE_STATUSES = ("active", "suspended", "revoked")  # "expired" is computed from valid_to


class Licence(Base):
    __tablename__ = "forms_licences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("forms_submissions.id"))
    department: Mapped[str] = mapped_column(String(16))
    form_slug: Mapped[str] = mapped_column(String(64))
    licence_type: Mapped[str] = mapped_column(String(64))
    holder_sub: Mapped[str] = mapped_column(String(64))
    # The holder's name as applied for (sealed): shown to the holder and officers only.
    holder_name_sealed: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    previous_licence_id: Mapped[str | None] = mapped_column(String(32))
    issued_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_forms_licences_holder", "holder_sub"),
        Index("ix_forms_licences_expiry", "status", "valid_to"),
    )


class LicenceEvent(Base):
    __tablename__ = "forms_licence_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("forms_licences.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_forms_licence_events_licence", "licence_id", "id"),)
