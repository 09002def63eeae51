"""Every query on licences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms_hub.licences.models import Licence, LicenceEvent


def by_number(db: Session, number: str, *, for_update: bool = False) -> Licence | None:
    query = select(Licence).where(Licence.number == number)
    if for_update:
        query = query.with_for_update()
    return db.scalar(query)


def get(db: Session, licence_id: str) -> Licence | None:
    return db.get(Licence, licence_id)


def by_submission(db: Session, submission_id: str) -> Licence | None:
    return db.scalar(select(Licence).where(Licence.submission_id == submission_id))


def for_holder(db: Session, holder_sub: str) -> list[Licence]:
    return list(
        db.scalars(select(Licence).where(Licence.holder_sub == holder_sub).order_by(Licence.valid_to.desc()))
    )


def expiring_unreminded(db: Session, before: datetime, now: datetime) -> list[Licence]:
    return list(
        db.scalars(
            select(Licence)
            .where(
                Licence.status == "active",
                Licence.reminded_at.is_(None),
                Licence.valid_to > now,
                Licence.valid_to <= before,
            )
            .order_by(Licence.valid_to)
        )
    )


def history(db: Session, licence_id: str) -> list[LicenceEvent]:
    return list(
        db.scalars(
            select(LicenceEvent).where(LicenceEvent.licence_id == licence_id).order_by(LicenceEvent.id)
        )
    )
