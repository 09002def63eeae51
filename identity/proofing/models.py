"""One row per proofing: a resident's request for remote proofing (with its evidence), or an
officer's in-person check. An approved row holds a sealed snapshot of the values the officer
checked against the card: ``verified_claims`` are released from it, never from the profile."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class IdentityProofing(Base):
    __tablename__ = "idp_identity_proofings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))  # identity.assurance.IAL_REMOTE | IAL_IN_PERSON
    # OpenID Connect for Identity Assurance: evidence "document", check_method "vpip" (the card
    # seen in person) or "vri" (an image of it checked remotely), document type "idcard".
    check_method: Mapped[str] = mapped_column(String(16))
    document_type: Mapped[str] = mapped_column(String(32), default="idcard")
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected | withdrawn
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("idp_accounts.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was rejected, shown to the resident
    # Sealed JSON of the claims checked against the card (name, name#zh-HK, birthdate, gender,
    # hkid_number), written when approved.
    verified_claims_encrypted: Mapped[str | None] = mapped_column(Text)
    # Remote proofing: the sealed uploaded image (kit.file_sealing) and its digest.
    evidence_path: Mapped[str | None] = mapped_column(String(200))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_content_type: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_idp_identity_proofings_account", "account_id", "status"),
        Index("ix_idp_identity_proofings_status", "status", "requested_at"),
    )
