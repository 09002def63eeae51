"""Request bodies of the submissions API, and the JSON its routes answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from forms_hub.attachments.schemas import AttachmentOut
from forms_hub.definitions.schemas import LocalText


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


# -- responses ------------------------------------------------------------------------------


class SubmissionForm(BaseModel):
    slug: str
    version: int
    title: LocalText


class SubmissionEventOut(BaseModel):
    at: str | None
    action: str
    from_: str | None = Field(alias="from")
    to: str
    actor_kind: str = Field(description="resident | officer | department_system | system")
    actor: str | None = Field(description="Hidden from the resident unless it is the resident")
    reason: str | None


class SubmissionSummary(BaseModel):
    id: str
    reference: str | None = Field(description="Given on submitting; null for a draft")
    status: str = Field(
        description="draft | submitted | in_review | info_requested | approved | rejected | withdrawn"
    )
    form: SubmissionForm
    department: str
    created_at: str | None
    updated_at: str | None
    submitted_at: str | None
    decided_at: str | None
    draft_expires_at: str | None = Field(default=None, description="Drafts only")
    migrated_from_version: int | None = None
    notice: str | None = None
    assigned_to: str | None = Field(default=None, description="The department's view only")
    renews_licence: str | None = None


class PrefillOut(BaseModel):
    """How an answer came from the resident's identity."""

    claim: str = Field(description="The identity claim the answer was filled from")
    verified: bool = Field(
        description="True only when the value came inside verified_claims under the hk_egate trust "
        "framework: read-only, and checked again against a fresh release at submission"
    )
    assurance_level: str | None = Field(
        default=None,
        description="in_person | remote for a verified value; self_asserted for a value the resident "
        "declared (an ordinary claim)",
    )
    trust_framework: str | None = Field(default=None, description="hk_egate (verified values only)")
    verified_at: str | None = Field(
        default=None, description="When the identity was proofed (verified values only)"
    )


class SubmissionView(SubmissionSummary):
    answers: dict[str, Any]
    prefill: dict[str, PrefillOut] = Field(
        description="Which answers came from the resident's identity, and whether verified"
    )
    identity_level: str | None = Field(
        default=None,
        description="self_asserted | remote | in_person: the resident's identity level as the latest "
        "identity release for this submission showed it (at submission, when the form needs a level "
        "or has verified answers); null when no release asked for it",
    )
    attachments: list[AttachmentOut]
    history: list[SubmissionEventOut]
    receipt: str | None = Field(default=None, description="The signed receipt (a compact JWS)")
    answers_sha256: str | None = None
    licence: str | None = Field(default=None, description="The licence number an approval issued")


class SubmissionList(BaseModel):
    items: list[SubmissionSummary]


class QueueItem(BaseModel):
    reference: str | None
    form: str
    status: str
    submitted_at: str | None
    updated_at: str | None
    assigned_to: str | None


class Queue(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class NotificationOut(BaseModel):
    id: int
    kind: str
    submission_id: str | None
    params: dict[str, Any]
    text: dict[str, str] = Field(description="The text in en and zh-HK")
    created_at: str | None
    read: bool


class NotificationList(BaseModel):
    items: list[NotificationOut]
    unread: int


class NotificationsMarked(BaseModel):
    marked: int


class ReceiptOut(BaseModel):
    reference: str | None
    receipt: str


class ReceiptVerification(BaseModel):
    valid: bool
    claims: dict[str, Any]
