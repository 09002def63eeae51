"""A resident's consent: which fields, to which client, for which stated purpose, until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class ConsentGrant(Base):
    """``remembered`` grants cover later releases until they expire or are revoked; the
    others cover the single release flow they were given in (tokens of that flow keep
    checking them) and are never offered to a new request."""

    __tablename__ = "consent_grants"
    __table_args__ = (Index("ix_consent_grants_resident_client", "resident_id", "client_id"),)

    grant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    purpose_en: Mapped[str] = mapped_column(Text)
    purpose_zh: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON)
    given_at: Mapped[datetime]
    given_via: Mapped[str] = mapped_column(String(64))
    remembered: Mapped[bool]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
