"""Every query on attachments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms_hub.attachments.models import Attachment


def get(db: Session, attachment_id: str) -> Attachment | None:
    return db.get(Attachment, attachment_id)


def of_submission(db: Session, submission_id: str) -> list[Attachment]:
    return list(
        db.scalars(
            select(Attachment)
            .where(Attachment.submission_id == submission_id)
            .order_by(Attachment.uploaded_at)
        )
    )
