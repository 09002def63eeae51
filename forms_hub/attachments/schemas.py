"""How an attachment looks on the API (documentation of the JSON the routes answer)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AttachmentOut(BaseModel):
    id: str
    name: str = Field(description="The definition's attachment name")
    filename: str
    media_type: str = Field(description="Sniffed from the content: application/pdf or an image type")
    size: int
    sha256: str
    uploaded_at: str


# The downloads: served with the type sniffed at upload, always as an attachment.
ATTACHMENT_MEDIA_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")
