"""Logout tokens waiting to be delivered to departments (OpenID Connect Back-Channel Logout
1.0): a durable queue, written in the transaction that ended the sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class LogoutDelivery(Base):
    """One logout token owed to one client. The token itself is never stored: every attempt
    signs a fresh one (new ``jti``, new ``exp``) from the account and ``sid`` kept here."""

    __tablename__ = "idp_logout_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(32))
    sid: Mapped[str | None] = mapped_column(String(64))  # None: every session of the subject
    reason: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idp_logout_deliveries_due", "state", "next_attempt_at"),)
