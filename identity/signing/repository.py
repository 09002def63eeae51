"""Every query on the signing CA, the residents' signing certificates and signature requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from identity.accounts.models import Account
from identity.accounts.service import ACTIVE
from identity.devices.models import Device
from identity.signing.models import SignatureRequest, SigningAuthority, SigningCertificate

# -- the CA and the TSA ----------------------------------------------------------------------


def add_authority(db: Session, row: SigningAuthority) -> None:
    db.add(row)
    db.flush()


def active_authorities(db: Session) -> Sequence[SigningAuthority]:
    """The active CA and TSA (newest first within each role)."""
    return db.scalars(
        select(SigningAuthority)
        .where(SigningAuthority.retired_at.is_(None))
        .order_by(SigningAuthority.created_at.desc())
    ).all()


def authority_by_serial(db: Session, serial: str) -> SigningAuthority | None:
    return db.scalars(select(SigningAuthority).where(SigningAuthority.serial == serial)).first()


# -- residents' certificates -----------------------------------------------------------------


def add_certificate(db: Session, row: SigningCertificate) -> None:
    db.add(row)
    db.flush()


def get_certificate(db: Session, serial: str) -> SigningCertificate | None:
    return db.get(SigningCertificate, serial)


def certificates_of(db: Session, account_id: str) -> Sequence[SigningCertificate]:
    """The account's certificates, newest first."""
    return db.scalars(
        select(SigningCertificate)
        .where(SigningCertificate.account_id == account_id)
        .order_by(SigningCertificate.issued_at.desc())
    ).all()


def live_certificates_of_device(db: Session, device_id: str, now: datetime) -> Sequence[SigningCertificate]:
    return db.scalars(
        select(SigningCertificate).where(
            SigningCertificate.device_id == device_id,
            SigningCertificate.revoked_at.is_(None),
            SigningCertificate.not_after > now,
        )
    ).all()


def unrevoked_with_ended_holder(db: Session) -> Sequence[tuple[SigningCertificate, datetime | None]]:
    """Certificates not yet revoked whose device was removed or whose account is no longer
    active, each with the device's removal time (None when only the account ended)."""
    rows = db.execute(
        select(SigningCertificate, Device.removed_at)
        .join(Device, Device.id == SigningCertificate.device_id, isouter=True)
        .join(Account, Account.id == SigningCertificate.account_id)
        .where(
            SigningCertificate.revoked_at.is_(None),
            or_(Device.id.is_(None), Device.removed_at.is_not(None), Account.status != ACTIVE),
        )
    ).all()
    return [(row[0], row[1]) for row in rows]


def revoked_of_authority(db: Session, authority_id: str) -> Sequence[SigningCertificate]:
    """What the CRL lists: every revoked certificate the CA issued that has not expired
    (RFC 5280 §3.3: an entry may go once the certificate has expired)."""
    return db.scalars(
        select(SigningCertificate)
        .where(SigningCertificate.authority_id == authority_id, SigningCertificate.revoked_at.is_not(None))
        .order_by(SigningCertificate.revoked_at)
    ).all()


# -- signature requests ----------------------------------------------------------------------


def add_request(db: Session, row: SignatureRequest) -> None:
    db.add(row)
    db.flush()


def get_request(db: Session, request_id: str) -> SignatureRequest | None:
    return db.get(SignatureRequest, request_id)


def request_for_update(db: Session, request_id: str) -> SignatureRequest | None:
    """Locked: the device's decision and the department's poll must not race."""
    return db.scalars(
        select(SignatureRequest).where(SignatureRequest.id == request_id).with_for_update()
    ).one_or_none()


def pending_for_account(db: Session, account_id: str, now: datetime) -> Sequence[SignatureRequest]:
    return db.scalars(
        select(SignatureRequest)
        .where(
            SignatureRequest.account_id == account_id,
            SignatureRequest.status == "pending",
            SignatureRequest.expires_at > now,
        )
        .order_by(SignatureRequest.created_at)
    ).all()
