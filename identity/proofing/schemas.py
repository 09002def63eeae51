"""What a registration officer enters: the values as printed on the identity card, and the
reason for a refusal."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from identity import claims as names
from identity.accounts.schemas import FormErrors, parse_identity_fields
from identity.residents.hkid import format_hkid

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class CheckedValues:
    """The identity-card fields, as the officer read them on the card."""

    hkid: str  # canonical
    name: str
    name_zh: str | None
    birthdate: date
    gender: str

    @classmethod
    def parse(cls, form: Any, today: date) -> CheckedValues:
        errors: dict[str, str] = {}
        values = parse_identity_fields(form, today, errors)
        if errors:
            raise FormErrors(errors)
        return cls(**values)

    def as_claims(self) -> dict[str, str | None]:
        """The values under their claim names: what ``verified_claims`` will carry."""
        return {
            names.NAME: self.name,
            names.NAME_ZH: self.name_zh,
            names.BIRTHDATE: self.birthdate.isoformat(),
            names.GENDER: self.gender,
            names.HKID: format_hkid(self.hkid),
        }


def clean_reason(raw: Any) -> str:
    """The reason a resident is shown for a refusal.

    Raises:
        FormErrors: ``{"reason": ...}`` when empty or too long.
    """
    text = unicodedata.normalize("NFC", raw).strip() if isinstance(raw, str) else ""
    text = " ".join(text.split())
    if not text:
        raise FormErrors({"reason": "reason.required"})
    if len(text) > MAX_REASON_LENGTH:
        raise FormErrors({"reason": "reason.too_long"})
    return text
