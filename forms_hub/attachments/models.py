"""Files attached to a submission: the bytes live in an AttachmentStorage, the row keeps
what was checked (type by content, size, SHA-256)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class Attachment(Base):
    __tablename__ = "forms_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("forms_submissions.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(64))  # the definition's attachment name
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime]

    __table_args__ = (Index("ix_forms_attachments_submission", "submission_id"),)
