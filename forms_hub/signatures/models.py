"""A submission's digital signature: the resident signs the receipt PDF in the e-Gateway app
through the provider's signing API (over HTTP, as any department would)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class SubmissionSignature(Base):
    __tablename__ = "forms_submission_signatures"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("forms_submissions.id", ondelete="CASCADE"), primary_key=True
    )
    # The provider's signature request; None when it could not be asked (``detail`` says why).
    request_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | declined | expired | unavailable
    detail: Mapped[str | None] = mapped_column(Text)
    # Sealed JSON (forms_hub.crypto.Sealer): the signed receipt PDF, the signer's name and
    # certificate, when it was signed. Written once approved.
    signed_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
