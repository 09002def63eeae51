"""Every query of consent grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from consent.grants.models import ConsentGrant
from kit.db import table_of
from kit.prepared import PreparedRead


def get(db: Session, grant_id: str) -> ConsentGrant | None:
    return db.get(ConsentGrant, grant_id)


_GRANTS = table_of(ConsentGrant)
# Built once: checked on every release of claims (userinfo, introspection, refresh).
_IN_FORCE = PreparedRead(
    select(_GRANTS.c.grant_id).where(
        _GRANTS.c.grant_id == bindparam("grant_id"),
        _GRANTS.c.revoked_at.is_(None),
        _GRANTS.c.expires_at > bindparam("now"),
    )
)


def in_force(db: Session, grant_id: str, now: datetime) -> bool:
    """Whether the grant exists, is not revoked and has not expired: one Core read of its
    key, no entity (what every release checks)."""
    return _IN_FORCE.first(db, {"grant_id": grant_id, "now": now}) is not None


def add(db: Session, grant: ConsentGrant) -> None:
    db.add(grant)
    db.flush()


def live_remembered(
    db: Session, *, resident_id: str, client_id: str, purpose_en: str, now: datetime
) -> Sequence[ConsentGrant]:
    """Remembered grants still in force for this resident, client and purpose, newest first."""
    statement = (
        select(ConsentGrant)
        .where(
            ConsentGrant.resident_id == resident_id,
            ConsentGrant.client_id == client_id,
            ConsentGrant.purpose_en == purpose_en,
            ConsentGrant.remembered.is_(True),
            ConsentGrant.revoked_at.is_(None),
            ConsentGrant.expires_at > now,
        )
        .order_by(ConsentGrant.given_at.desc(), ConsentGrant.grant_id)
    )
    return db.scalars(statement).all()


def for_resident(db: Session, resident_id: str) -> Sequence[ConsentGrant]:
    statement = (
        select(ConsentGrant)
        .where(ConsentGrant.resident_id == resident_id)
        .order_by(ConsentGrant.given_at.desc(), ConsentGrant.grant_id)
    )
    return db.scalars(statement).all()


def purposes(db: Session, grant_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The stated purpose of each grant, in English and Chinese, by grant id."""
    if not grant_ids:
        return {}
    statement = select(ConsentGrant.grant_id, ConsentGrant.purpose_en, ConsentGrant.purpose_zh).where(
        ConsentGrant.grant_id.in_(grant_ids)
    )
    return {grant_id: (en, zh) for grant_id, en, zh in db.execute(statement)}
