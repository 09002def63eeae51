from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class BrowserSession(Base):
    """A server-side sign-in session; the cookie holds a random token, we keep its hash.

    ``id`` is the session's lasting handle (tokens, codes and devices name it; ``sid`` derives
    from it); ``cookie_hash`` is the SHA-256 of the cookie's current token, replaced on every
    re-authentication so that a cookie from before it no longer signs anyone in.
    """

    __tablename__ = "idp_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    auth_time: Mapped[datetime]
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(32))  # approved on this bound device

    __table_args__ = (
        Index("ix_idp_sessions_account", "account_id"),
        Index("ix_idp_sessions_expires", "expires_at"),  # housekeeping
    )


class PendingSignin(Base):
    """A sign-in whose password was right and that waits for the second factor, or a step-up
    of a live session (``session_id``). The cookie holds a random token; we keep its hash."""

    __tablename__ = "idp_pending_signins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(64))
    next_path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_idp_pending_signins_account", "account_id"),
        Index("ix_idp_pending_signins_expires", "expires_at"),  # housekeeping
    )
