"""The forms hub as a relying party: its client registration with the provider, pending
authorization requests, its own browser sessions and the tokens kept to re-check prefill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class RelyingPartyClient(Base):
    """The hub's own client at the provider (one row). The secret is sealed, never in clear."""

    __tablename__ = "forms_rp_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    secret_sealed: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AuthRequest(Base):
    """An authorization request in flight, keyed by a digest of ``state`` and bound to the
    browser that started it (a cookie whose digest is ``binding_hash``): login CSRF and a
    code injected into another browser both fail. Deleted when the callback uses it."""

    __tablename__ = "forms_auth_requests"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    binding_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(16))  # sign_in | prefill
    return_to: Mapped[str] = mapped_column(String(500))
    sub: Mapped[str | None] = mapped_column(String(64))  # prefill: who asked
    submission_id: Mapped[str | None] = mapped_column(String(32))
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_forms_auth_requests_expiry", "expires_at"),)


class HubSession(Base):
    """A browser's session with the forms hub, keyed by a digest of the cookie's token."""

    __tablename__ = "forms_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sub: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # resident | officer
    department: Mapped[str | None] = mapped_column(String(16))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # The provider's session (the ID token's ``sid``): a logout token naming it ends this one.
    sid: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_forms_sessions_expiry", "expires_at"),
        Index("ix_forms_sessions_sid", "sid"),
        Index("ix_forms_sessions_sub", "sub"),
    )


class PrefillToken(Base):
    """Tokens of the release that prefilled a draft, sealed, kept until the draft is
    submitted so the verified values can be re-checked against a fresh userinfo release."""

    __tablename__ = "forms_prefill_tokens"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("forms_submissions.id", ondelete="CASCADE"), primary_key=True
    )
    sub: Mapped[str] = mapped_column(String(64))
    tokens_sealed: Mapped[str] = mapped_column(Text)
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    sid: Mapped[str | None] = mapped_column(String(64))  # the provider's session they came from


class LogoutTokenJti(Base):
    """Logout tokens already acted on (Back-Channel Logout 1.0 §2.6 step 8), kept until they
    expire, so a captured one cannot be replayed."""

    __tablename__ = "forms_logout_token_jtis"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_forms_logout_token_jtis_expiry", "expires_at"),)
