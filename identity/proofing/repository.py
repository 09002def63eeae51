"""Every query on identity proofings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.proofing.models import IdentityProofing

PENDING = "pending"


def add(db: Session, proofing: IdentityProofing) -> None:
    db.add(proofing)
    db.flush()


def get(db: Session, proofing_id: str) -> IdentityProofing | None:
    return db.get(IdentityProofing, proofing_id)


def get_for_update(db: Session, proofing_id: str) -> IdentityProofing | None:
    """Locked: two officers deciding the same request must not both decide it."""
    return db.scalars(
        select(IdentityProofing).where(IdentityProofing.id == proofing_id).with_for_update()
    ).one_or_none()


def of_account(db: Session, account_id: str) -> Sequence[IdentityProofing]:
    """The account's proofings, newest first."""
    return db.scalars(
        select(IdentityProofing)
        .where(IdentityProofing.account_id == account_id)
        .order_by(IdentityProofing.requested_at.desc(), IdentityProofing.id)
    ).all()


def pending_of_account(db: Session, account_id: str) -> IdentityProofing | None:
    return db.scalars(
        select(IdentityProofing)
        .where(IdentityProofing.account_id == account_id, IdentityProofing.status == PENDING)
        .order_by(IdentityProofing.requested_at.desc())
        .limit(1)
    ).first()


def pending(db: Session, limit: int = 200) -> Sequence[IdentityProofing]:
    """The registration officers' queue: pending requests, oldest first."""
    return db.scalars(
        select(IdentityProofing)
        .where(IdentityProofing.status == PENDING)
        .order_by(IdentityProofing.requested_at, IdentityProofing.id)
        .limit(limit)
    ).all()
