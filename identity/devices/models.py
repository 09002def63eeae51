"""Devices bound to a resident (the phone app's ES256 key) and sign-in requests they approve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class Device(Base):
    __tablename__ = "idp_devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    bound_session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idp_devices_account", "account_id"),)


class AppSignin(Base):
    """One request for the app's approval: a QR/app-to-app sign-in started in a browser
    (kind "browser"), or a back-channel request from a department (kind "ciba").

    Only hashes of the secrets are kept: the browser's cookie and the CIBA auth_req_id."""

    __tablename__ = "idp_app_signins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public; in the QR code
    kind: Mapped[str] = mapped_column(String(8))
    browser_token_hash: Mapped[str | None] = mapped_column(String(64))
    auth_req_id_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    short_code: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str | None] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    binding_message: Mapped[str | None] = mapped_column(String(100))
    next_path: Mapped[str | None] = mapped_column(Text)
    target_account_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    account_id: Mapped[str | None] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    # CIBA ping mode (§10.2): the auth_req_id and the client's notification token, sealed,
    # kept until the client is notified of the decision.
    ping_sealed: Mapped[str | None] = mapped_column(Text)
    pinged_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_idp_app_signins_target", "target_account_id", "status"),
        Index("ix_idp_app_signins_expires", "expires_at"),  # housekeeping
    )


class DeviceSignatureJti(Base):
    """Signed approvals already used, so a captured one cannot be replayed."""

    __tablename__ = "idp_device_signature_jtis"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime]
