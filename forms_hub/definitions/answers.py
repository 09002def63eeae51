"""Checking a resident's answers against the definition's JSON Schema, with a message per
field in English and Traditional Chinese, and reading answers typed into an HTML form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError

from forms_hub.crypto import canonical_json, sha256_hex
from forms_hub.definitions.document import FormDocument
from kit.i18n import CATALOGUES, CHINESE, ENGLISH, N_, bilingual, pN_

FORM_ERROR_FIELD = "_form"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": self.message}


def _template(code: str, widget: str) -> str:
    """The English message (a msgid of the catalogue) for a failed check of ``code``."""
    choose = widget in ("select", "radio", "checkboxes")
    templates = {
        "required": N_("Select {label}") if choose else N_("Enter {label}"),
        "type": N_("{label} must be {expected}"),
        "minLength": N_("{label} must be {limit} characters or more"),
        "maxLength": N_("{label} must be {limit} characters or fewer"),
        "pattern": N_("{label} is not in the right format"),
        "enum": N_("Select one of the options for {label}"),
        "minimum": N_("{label} must be {limit} or more"),
        "maximum": N_("{label} must be {limit} or less"),
        "exclusiveMinimum": N_("{label} must be more than {limit}"),
        "exclusiveMaximum": N_("{label} must be less than {limit}"),
        "minItems": N_("Select at least {limit} for {label}"),
        "maxItems": N_("Select no more than {limit} for {label}"),
        "const": N_("You must confirm {label}"),
        "format:date": N_("{label} must be a real date, like 2024-03-31"),
        "format:email": N_("Enter {label} in the correct format, like name@example.com"),
        "prefill": N_("{label} must be as in your identity record; fill it from your identity again"),
        "unknown": N_("{label} is not a question of this form"),
    }
    return templates.get(code, N_("{label} is not valid"))


# What an answer of each JSON type must be, as the messages above say it.
_EXPECTED = "expected answer"  # their msgctxt
_TYPE_NAMES = {
    "string": pN_("expected answer", "text"),
    "integer": pN_("expected answer", "a whole number"),
    "number": pN_("expected answer", "a number"),
    "boolean": pN_("expected answer", "yes or no"),
    "array": pN_("expected answer", "a list of choices"),
}


def _message(doc: FormDocument, field: str, code: str, **params: Any) -> dict[str, str]:
    definition = doc.fields.get(field)
    custom = definition.presentation.get("messages", {}) if definition else {}
    kind = code.split(":")[0]
    if kind in custom:
        return dict(custom[kind])
    if kind == "required" and definition and definition.type == "boolean" and "const" in custom:
        return dict(custom["const"])  # an unticked declaration reads the same as a refused one
    label = definition.label if definition else {"en": field, "zh-HK": field}
    template = _template(code, definition.widget if definition else "text")
    expected = _TYPE_NAMES.get(str(params.pop("expected", "")), pN_("expected answer", "valid"))
    expected_names = {lang: CATALOGUES.pgettext(lang, _EXPECTED, expected) for lang in (ENGLISH, CHINESE)}
    return bilingual(template, label=label, expected=expected_names, **params)


def _errors_of(doc: FormDocument, error: ValidationError, answers: Mapping[str, Any]) -> list[FieldError]:
    kind = error.validator
    if kind == "required":
        return [
            FieldError(name, "required", _message(doc, name, "required"))
            for name in error.validator_value
            if name not in answers
        ]
    if kind == "additionalProperties":
        unknown = [name for name in answers if name not in doc.fields]
        return [FieldError(name, "unknown", _message(doc, name, "unknown")) for name in unknown]
    field = str(error.absolute_path[0]) if error.absolute_path else FORM_ERROR_FIELD
    if kind == "format":
        code = f"format:{error.validator_value}"
        return [FieldError(field, code, _message(doc, field, code))]
    if kind == "type":
        return [FieldError(field, "type", _message(doc, field, "type", expected=error.validator_value))]
    if kind in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [FieldError(field, kind, _message(doc, field, kind, limit=error.validator_value))]
    if kind in ("minItems", "maxItems"):
        return [FieldError(field, kind, _message(doc, field, kind, limit=error.validator_value))]
    if kind in ("pattern", "enum", "const"):
        return [FieldError(field, kind, _message(doc, field, kind))]
    return [FieldError(field, "invalid", _message(doc, field, "invalid"))]


def validate_answers(
    doc: FormDocument, answers: Mapping[str, Any], *, complete: bool = True
) -> list[FieldError]:
    """Per-field errors, at most one per field, in page order. ``complete=False`` (saving a
    draft) skips the missing-answer checks: a draft may be unfinished, never malformed."""
    if not isinstance(answers, Mapping):
        return [FieldError(FORM_ERROR_FIELD, "type", bilingual(N_("Answers must be an object")))]
    found: dict[str, FieldError] = {}
    for error in doc.validator.iter_errors(dict(answers)):
        for item in _errors_of(doc, error, answers):
            if item.code == "required" and not complete:
                continue
            found.setdefault(item.field, item)
    order = doc.field_order
    return sorted(found.values(), key=lambda e: order.get(e.field, len(order)))


def prefill_mismatch(doc: FormDocument, field: str) -> FieldError:
    return FieldError(field, "prefill", _message(doc, field, "prefill"))


def answers_from_form(doc: FormDocument, form: Any) -> dict[str, Any]:
    """Answers typed into the HTML form (``form`` has ``get`` and ``getlist``), converted to
    the schema's types where the text allows it; what does not convert is kept as typed so
    validation reports it. Empty answers are left out (a draft may be unfinished)."""
    answers: dict[str, Any] = {}
    for name, field in doc.fields.items():
        if field.type == "array":
            values = [v for v in form.getlist(name) if isinstance(v, str) and v]
            if values:
                answers[name] = values
            continue
        if field.type == "boolean":
            raw = form.get(name)
            if raw is not None:
                answers[name] = raw in ("true", "on", "yes", "1")
            continue
        raw = form.get(name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        text = raw.strip()
        if field.type == "integer":
            answers[name] = int(text) if text.lstrip("-").isdigit() else text
        elif field.type == "number":
            try:
                answers[name] = float(text)
            except ValueError:
                answers[name] = text
        else:
            answers[name] = text
    return answers


def answers_digest(answers: Mapping[str, Any], attachment_digests: list[tuple[str, str]]) -> str:
    """SHA-256 over the canonical answers and each attachment's (slot, sha256): what a
    receipt binds to without holding any of the values."""
    return sha256_hex(canonical_json({"answers": dict(answers), "attachments": sorted(attachment_digests)}))
