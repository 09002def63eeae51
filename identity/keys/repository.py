"""Every query on the signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from identity.keys.models import SigningKey


def add(db: Session, row: SigningKey) -> None:
    db.add(row)
    db.flush()


def active(db: Session) -> Sequence[SigningKey]:
    """Keys not retired, oldest first."""
    return db.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at)
    ).all()


def published(db: Session, now: datetime) -> Sequence[SigningKey]:
    """Keys whose public half belongs in the JWKS (active, or retired but still verifying
    tokens they signed), newest first."""
    return db.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.publish_until > now))
        .order_by(SigningKey.created_at.desc())
    ).all()
