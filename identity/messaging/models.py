"""The identity service's outbox table (kit.outbox delivers it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class OutboxMessage(Base):
    """Messages to deliver (email/SMS). Written in the same transaction as the change that
    caused them, so an acknowledged action never loses its notification."""

    __tablename__ = "idp_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    recipient_encrypted: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(200))
    body_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
