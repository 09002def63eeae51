"""Every query on form definitions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms_hub.definitions.models import FormDefinition


def get(db: Session, definition_id: str) -> FormDefinition | None:
    return db.get(FormDefinition, definition_id)


def get_version(db: Session, slug: str, version: int) -> FormDefinition | None:
    return db.scalar(
        select(FormDefinition).where(FormDefinition.slug == slug, FormDefinition.version == version)
    )


def latest(db: Session, slug: str) -> FormDefinition | None:
    return db.scalar(
        select(FormDefinition)
        .where(FormDefinition.slug == slug)
        .order_by(FormDefinition.version.desc())
        .limit(1)
    )


def published(db: Session, slug: str) -> FormDefinition | None:
    return db.scalar(
        select(FormDefinition).where(FormDefinition.slug == slug, FormDefinition.status == "published")
    )


def list_published(db: Session, department: str | None = None) -> list[FormDefinition]:
    query = select(FormDefinition).where(FormDefinition.status == "published")
    if department:
        query = query.where(FormDefinition.department == department)
    return list(db.scalars(query.order_by(FormDefinition.department, FormDefinition.slug)))


def list_versions(
    db: Session, department: str | None = None, slug: str | None = None
) -> list[FormDefinition]:
    query = select(FormDefinition)
    if department:
        query = query.where(FormDefinition.department == department)
    if slug:
        query = query.where(FormDefinition.slug == slug)
    return list(db.scalars(query.order_by(FormDefinition.slug, FormDefinition.version)))
