"""Accounts of people: residents (one per identity-document number) and staff.

Personal data is never stored in clear: the profile and the identity-document number are
AES-GCM ciphertexts (kit.sealing), looked up through keyed hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class Account(Base):
    __tablename__ = "idp_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # resident | staff
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Blind indexes (HMAC): unique lookups without keeping the values in clear.
    hkid_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    email_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)  # staff only
    hkid_encrypted: Mapped[str | None] = mapped_column(Text)
    profile_encrypted: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None]
    phone_verified_at: Mapped[datetime | None]
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    department: Mapped[str | None] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    # identity.assurance.IAL_*: raised only by proofing (identity/proofing/), never lowered.
    identity_level: Mapped[str] = mapped_column(
        String(16), default="self_asserted", server_default="self_asserted"
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RecoveryCode(Base):
    __tablename__ = "idp_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idp_recovery_codes_account", "account_id"),)


class AccountEvent(Base):
    """The resident's account activity (Warehouse's HasEvents shape): one row per event."""

    __tablename__ = "idp_account_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(64))  # truncated IP address
    user_agent: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_idp_account_events_account_time", "account_id", "occurred_at"),)


class VerificationCode(Base):
    """One-time codes for email/phone verification and password reset (stored hashed)."""

    __tablename__ = "idp_verification_codes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # email | phone | reset
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_idp_verification_codes_account", "account_id", "purpose"),
        Index("ix_idp_verification_codes_expires", "expires_at"),  # housekeeping
    )
