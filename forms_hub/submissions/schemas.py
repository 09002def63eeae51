"""Request bodies of the submissions API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSubmission(_Strict):
    form: str = Field(max_length=64, description="The form's slug; its published version is used.")
    answers: dict[str, Any] = Field(default_factory=dict)
    submit: bool = Field(
        default=False,
        description="Submit at once (needs an Idempotency-Key header); otherwise a draft is saved.",
    )


class Answers(_Strict):
    answers: dict[str, Any]


class Withdrawal(_Strict):
    reason: str | None = Field(default=None, max_length=2000)


class Resubmission(_Strict):
    answers: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=2000)


class DepartmentTransition(_Strict):
    action: str = Field(description="start_review | request_info | approve | reject")
    reason: str | None = Field(default=None, max_length=2000)
    conditions: list[str] | None = Field(default=None, description="Extra licence conditions (approve)")


class Assignment(_Strict):
    assignee: str | None = Field(default=None, max_length=64, description='An officer\'s sub, "me", or null')


class ReceiptToVerify(_Strict):
    receipt: str = Field(max_length=8192)


class NotificationsRead(_Strict):
    ids: list[int] | None = None
