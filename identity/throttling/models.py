"""The guessing defence's counters (identity/throttling/service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class LoginThrottle(Base):
    """Consecutive failures per key (an account, a (network, identifier) pair, a network, a
    known browser, a client): how many, when the last one was, until when the next attempt
    waits, and when the owner was last told that their account is being guessed at."""

    __tablename__ = "idp_login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
