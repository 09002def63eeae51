"""How licences look on the API (documentation of the JSON the routes answer)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from forms_hub.definitions.schemas import LocalText


class LicenceVerification(BaseModel):
    """What anyone may learn about a licence number; never the holder. An unknown number
    has only ``number`` and ``status`` (``not_found``)."""

    number: str
    status: str = Field(description="valid | not_yet_valid | expired | suspended | revoked | not_found")
    licence_type: str | None = None
    licence_name: LocalText | None = None
    department: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    checked_at: str | None = None


class LicenceEvent(BaseModel):
    at: str | None
    action: str
    from_: str | None = Field(alias="from")
    to: str
    reason: str | None


class LicenceView(LicenceVerification):
    conditions: list[str]
    holder_name: str | None
    status_reason: str | None
    issued_at: str | None
    renewal_opens: str | None
    can_renew: bool | None = Field(description="For the holder only")
    verification_url: str
    history: list[LicenceEvent]


class LicenceList(BaseModel):
    items: list[LicenceView]
