from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from consent.grants.service import GrantView


class GrantOut(BaseModel):
    grant_id: str
    client_id: str
    department: str
    purpose_en: str
    purpose_zh: str
    fields: list[str]
    given_at: datetime
    given_via: str
    remembered: bool
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    status: str

    @classmethod
    def of(cls, view: GrantView) -> GrantOut:
        return cls(
            grant_id=view.grant_id,
            client_id=view.client_id,
            department=view.department,
            purpose_en=view.purpose_en,
            purpose_zh=view.purpose_zh,
            fields=list(view.fields),
            given_at=view.given_at,
            given_via=view.given_via,
            remembered=view.remembered,
            expires_at=view.expires_at,
            revoked_at=view.revoked_at,
            revoked_by=view.revoked_by,
            status=view.status,
        )


class GrantList(BaseModel):
    grants: list[GrantOut]
