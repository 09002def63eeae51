"""What the app's API answers (documentation of the JSON the routes build)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BoundDevice(BaseModel):
    device_id: str
    name: str


class DeviceOut(BoundDevice):
    created_at: str


class SigninRequestOut(BaseModel):
    """What the app shows before the resident decides: who asks, for what, and the code."""

    request_id: str
    kind: str = Field(description="browser | ciba")
    department: str | None
    client_name: str | None
    fields: list[str]
    code: str
    binding_message: str | None
    expires_at: int = Field(description="Seconds since the epoch")


class SigninDecision(BaseModel):
    status: str = Field(description="approved | denied")
