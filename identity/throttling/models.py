"""The sign-in throttle's counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class LoginThrottle(Base):
    """Failed sign-in counters per account and per source, for growing delays and lockout."""

    __tablename__ = "idp_login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
