"""Form definitions: one row per immutable version of a department's form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base

# draft: loaded, not yet offered; published: the version new drafts use; superseded: an
# older published version (its drafts may still be submitted for a grace period); retired:
# the form is no longer offered at all.
DEFINITION_STATUSES = ("draft", "published", "superseded", "retired")


class FormDefinition(Base):
    __tablename__ = "forms_definitions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    department: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    title_en: Mapped[str] = mapped_column(String(200))
    title_zh: Mapped[str] = mapped_column(String(200))
    is_licence: Mapped[bool] = mapped_column(default=False)
    # The whole definition as loaded: JSON Schema of the answers plus the presentation.
    document: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)  # read on a cache miss only
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("slug", "version"),
        Index("ix_forms_definitions_status_slug", "status", "slug"),
    )
