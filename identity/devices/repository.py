"""Every query on bound devices, app sign-in requests and used device signatures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from identity.devices.models import AppSignin, Device, DeviceSignatureJti
from kit.db import table_of
from kit.purge import delete_batch

# -- devices ---------------------------------------------------------------------------------


def add_device(db: Session, device: Device) -> None:
    db.add(device)
    db.flush()


def get_device(db: Session, device_id: str) -> Device | None:
    return db.get(Device, device_id)


def bound_devices(db: Session, account_id: str) -> Sequence[Device]:
    """The account's devices not removed, oldest first."""
    return db.scalars(
        select(Device)
        .where(Device.account_id == account_id, Device.removed_at.is_(None))
        .order_by(Device.created_at)
    ).all()


def record_signature_jti(db: Session, jti: str, device_id: str, expires_at: datetime) -> bool:
    """Remember a signed request's ``jti``; False when the device already used it."""
    if db.get(DeviceSignatureJti, (jti, device_id)) is not None:
        return False
    db.add(DeviceSignatureJti(jti=jti, device_id=device_id, expires_at=expires_at))
    db.flush()
    return True


# -- sign-in requests ------------------------------------------------------------------------


def add_signin(db: Session, signin: AppSignin) -> None:
    db.add(signin)
    db.flush()


def get_signin(db: Session, request_id: str) -> AppSignin | None:
    return db.get(AppSignin, request_id)


def signin_for_update(db: Session, request_id: str) -> AppSignin | None:
    """Locked: the app's decision and the browser's poll must not race."""
    return db.scalars(select(AppSignin).where(AppSignin.id == request_id).with_for_update()).one_or_none()


def signin_by_auth_req_for_update(db: Session, auth_req_id_hash: str) -> AppSignin | None:
    """Locked: two polls with one auth_req_id must not both receive tokens."""
    return db.scalars(
        select(AppSignin).where(AppSignin.auth_req_id_hash == auth_req_id_hash).with_for_update()
    ).one_or_none()


def pending_for_account(db: Session, account_id: str, now: datetime) -> Sequence[AppSignin]:
    return db.scalars(
        select(AppSignin).where(
            AppSignin.target_account_id == account_id,
            AppSignin.status == "pending",
            AppSignin.expires_at > now,
        )
    ).all()


def cancel_open_of_device(db: Session, device_id: str, now: datetime) -> None:
    db.execute(
        update(AppSignin)
        .where(AppSignin.device_id == device_id, AppSignin.consumed_at.is_(None))
        .values(status="cancelled", consumed_at=now)
    )


def cancel_pending_for_account(db: Session, account_id: str) -> None:
    db.execute(
        update(AppSignin)
        .where(AppSignin.target_account_id == account_id, AppSignin.status == "pending")
        .values(status="cancelled")
    )


# -- housekeeping (egate maintenance) ---------------------------------------------------------


def purge_app_signins(db: Session, before: datetime, limit: int) -> int:
    """App sign-ins expired before ``before`` (kept a while so a late poll still hears
    ``expired_token`` rather than an unknown request)."""
    table = table_of(AppSignin)
    return delete_batch(db, table, table.c.expires_at < before, limit)


def purge_signature_jtis(db: Session, now: datetime, limit: int) -> int:
    table = table_of(DeviceSignatureJti)
    return delete_batch(db, table, table.c.expires_at < now, limit)
