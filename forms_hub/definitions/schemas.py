"""How form definitions look on the API (documentation of the JSON the routes answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LocalText(BaseModel):
    """A text in both official languages."""

    model_config = ConfigDict(populate_by_name=True)
    en: str
    zh_hk: str = Field(alias="zh-HK")


class FormSummary(BaseModel):
    slug: str
    version: int
    department: str
    status: str = Field(description="draft | published | superseded | retired")
    title: LocalText
    licence: bool = Field(description="Whether an approved submission issues a licence")
    published_at: str | None


class FormList(BaseModel):
    items: list[FormSummary]


class LoadedForm(FormSummary):
    created: bool = Field(description="False when the latest version already had this content")


class FormDocument(BaseModel):
    """A version's definition document (JSON Schema of the answers, bilingual labels,
    attachments, licence terms) with its version number and status."""

    model_config = ConfigDict(extra="allow")
    version: int
    status: str
