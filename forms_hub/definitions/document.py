"""The form definition format: a JSON document holding the JSON Schema (Draft 2020-12) of
the answers and the bilingual presentation (pages, labels, help, options), the prefill
mapping to identity claims, the attachments and, for a licence application, the licence.

``definition.schema.json`` (next to this module) is the format's own JSON Schema; the
checks in :func:`definition_problems` add what a schema cannot say (every answer has a page
and a label, prefill targets exist, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from forms_hub.assurance import SELF_ASSERTED
from kit.i18n import N_

LANGUAGES = ("en", "zh-HK")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCALAR_TYPES = ("string", "integer", "number", "boolean")

# The identity claims a form may prefill (definition.schema.json lists the same), and their
# labels (msgids of the catalogue, as on the provider's pages). Whether a prefilled value is
# verified is not a property of the claim but of the release: only a value that came inside
# ``verified_claims`` is (forms_hub.assurance); any other is self-declared, and the resident
# may edit it.
CLAIM_LABELS: dict[str, str] = {
    "name": N_("English name"),
    "name#zh-HK": N_("Chinese name"),
    "birthdate": N_("Date of birth"),
    "gender": N_("Gender"),
    "hkid_number": N_("Hong Kong identity card number"),
    "email": N_("Email address"),
    "phone_number": N_("Mobile phone number"),
    "address": N_("Residential address"),
}


@lru_cache(maxsize=1)
def _format_validator() -> Draft202012Validator:
    path = Path(__file__).resolve().parent / "definition.schema.json"
    return Draft202012Validator(json.loads(path.read_text()))


def _where(path: Any) -> str:
    return "/".join(str(p) for p in path) or "(document)"


def definition_problems(doc: Any) -> list[str]:
    """Everything wrong with a definition document, one readable line each (empty: valid).

    Checking is pure and costs tens of milliseconds (JSON Schema meta-validation), while the
    same few documents are checked again and again (the demo forms at every start, a
    definition re-published): remembered by the document's canonical JSON."""
    try:
        canonical = json.dumps(doc, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):  # not a JSON document at all: nothing to remember it by
        return _problems(doc)
    return list(_problems_of_canonical(canonical))


@lru_cache(maxsize=128)
def _problems_of_canonical(canonical: str) -> tuple[str, ...]:
    return tuple(_problems(json.loads(canonical)))


def _problems(doc: Any) -> list[str]:
    problems = _format_problems(doc)
    if problems:
        return problems
    schema = doc["schema"]
    problems = _dialect_problems(schema)
    unusable = _unusable_schema_problem(schema)
    if unusable:
        return [*problems, unusable]
    properties = schema["properties"]
    for check in _DOCUMENT_CHECKS:
        problems.extend(check(doc, properties))
    return sorted(set(problems), key=problems.index)


def _format_problems(doc: Any) -> list[str]:
    """What the format's own JSON Schema finds, in document order."""
    errors = sorted(_format_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]


def _dialect_problems(schema: dict[str, Any]) -> list[str]:
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        return [f"schema/$schema: must be {DRAFT_2020_12}"]
    return []


def _unusable_schema_problem(schema: dict[str, Any]) -> str | None:
    """A schema the other checks cannot read: not a valid JSON Schema, or not an object
    with properties."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"schema/{_where(exc.absolute_path)}: {exc.message}"
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        return "schema: must be an object schema with at least one property"
    return None


def _answer_schema_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    schema = doc["schema"]
    problems = []
    if schema.get("additionalProperties") is not False:
        problems.append("schema/additionalProperties: must be false (unknown answers are refused)")
    for name, prop in properties.items():
        problems.extend(_property_problems(name, prop, doc["fields"].get(name)))
    problems.extend(
        f"schema/required: {name!r} is not a property"
        for name in schema.get("required", [])
        if name not in properties
    )
    return problems


def _page_placement(
    pages: list[dict[str, Any]], properties: dict[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """Which page each property is on, and the pages' fields that are unknown or placed twice."""
    problems = []
    placed: dict[str, str] = {}
    for page in pages:
        for name in page["fields"]:
            if name not in properties:
                problems.append(f"pages/{page['id']}: {name!r} is not a property of the schema")
            elif name in placed:
                problems.append(f"pages/{page['id']}: {name!r} is already on page {placed[name]!r}")
            else:
                placed[name] = page["id"]
    return problems, placed


def _layout_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    """Every property is on one page and has a label; every page field and label is a property."""
    problems, placed = _page_placement(doc["pages"], properties)
    labels = doc["fields"]
    for name in properties:
        if name not in placed:
            problems.append(f"pages: property {name!r} is on no page")
        if name not in labels:
            problems.append(f"fields: property {name!r} has no label")
    problems.extend(
        f"fields: {name!r} is not a property of the schema" for name in labels if name not in properties
    )
    return problems


def _prefill_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    problems = []
    for name in doc.get("prefill", {}):
        if name not in properties:
            problems.append(f"prefill: {name!r} is not a property of the schema")
        elif properties[name].get("type") != "string":
            problems.append(f"prefill: {name!r} must be a string property")
    return problems


def _attachment_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    problems = []
    slots = [a["name"] for a in doc.get("attachments", [])]
    for name in slots:
        if slots.count(name) > 1:
            problems.append(f"attachments: {name!r} is declared twice")
        if name in properties:
            problems.append(f"attachments: {name!r} is also a property of the schema")
    return problems


def _licence_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    licence = doc.get("licence")
    if not licence:
        return []
    problems = []
    if licence.get("holder_field") and licence["holder_field"] not in properties:
        problems.append("licence/holder_field: not a property of the schema")
    if licence["renewal_window_days"] >= licence["validity_days"]:
        problems.append("licence/renewal_window_days: must be shorter than validity_days")
    return problems


def _notification_problems(doc: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    if doc.get("notify_email_field") and doc["notify_email_field"] not in properties:
        return ["notify_email_field: not a property of the schema"]
    return []


# The checks of a document whose answer schema is readable, in the order problems are listed.
_DOCUMENT_CHECKS = (
    _answer_schema_problems,
    _layout_problems,
    _prefill_problems,
    _attachment_problems,
    _licence_problems,
    _notification_problems,
)


def _property_problems(name: str, prop: Any, field: dict[str, Any] | None) -> list[str]:
    where = f"schema/properties/{name}"
    if not isinstance(prop, dict):
        return [f"{where}: must be an object"]
    kind = prop.get("type")
    if kind == "array" and not _is_enum_of_strings(prop.get("items")):
        return [f"{where}: an array answer must be a list of strings from an enum"]
    if kind != "array" and kind not in SCALAR_TYPES:
        return [f"{where}: type must be one of string, integer, number, boolean or array"]
    values = prop["items"]["enum"] if kind == "array" else prop.get("enum")
    return _option_label_problems(name, values, field)


def _is_enum_of_strings(items: Any) -> bool:
    return isinstance(items, dict) and items.get("type") == "string" and bool(items.get("enum"))


def _option_label_problems(name: str, values: Any, field: dict[str, Any] | None) -> list[str]:
    """Every choice of an enum answer has a label, so the form can show it."""
    if not values or field is None:
        return []
    labelled = field.get("options", {})
    missing = [str(v) for v in values if str(v) not in labelled]
    if missing:
        return [f"fields/{name}/options: no label for {', '.join(missing)}"]
    return []


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict[str, Any]
    presentation: dict[str, Any]
    required: bool
    prefill_claim: str | None

    @property
    def label(self) -> dict[str, str]:
        return cast(dict[str, str], self.presentation["label"])

    @property
    def help(self) -> dict[str, str] | None:
        return self.presentation.get("help")

    @property
    def type(self) -> str:
        return cast(str, self.schema.get("type", "string"))

    @property
    def enum(self) -> list[Any] | None:
        if self.type == "array":
            return cast(list[Any], self.schema["items"]["enum"])
        return cast(list[Any] | None, self.schema.get("enum"))

    @property
    def options(self) -> list[tuple[str, dict[str, str]]]:
        labels = self.presentation.get("options", {})
        return [(str(v), labels.get(str(v), {"en": str(v), "zh-HK": str(v)})) for v in self.enum or []]

    @property
    def widget(self) -> str:
        if self.presentation.get("widget"):
            return cast(str, self.presentation["widget"])
        if self.type == "array":
            return "checkboxes"
        if self.type == "boolean":
            return "checkbox"
        if self.type in ("integer", "number"):
            return "number"
        if self.enum:
            return "select"
        return {"date": "date", "email": "email"}.get(self.schema.get("format", ""), "text")


class FormDocument:
    """Read-only view of a valid definition document (the casts below rest on
    ``definition_problems``: a stored document has passed it)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.raw = document

    @property
    def slug(self) -> str:
        return cast(str, self.raw["slug"])

    @property
    def department(self) -> str:
        return cast(str, self.raw["department"])

    @property
    def title(self) -> dict[str, str]:
        return cast(dict[str, str], self.raw["title"])

    @property
    def purpose(self) -> dict[str, str]:
        return cast(dict[str, str], self.raw["purpose"])

    @property
    def legal_basis(self) -> str | None:
        return self.raw.get("legal_basis")

    @property
    def schema(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.raw["schema"])

    @property
    def prefill(self) -> dict[str, str]:
        return cast(dict[str, str], self.raw.get("prefill", {}))

    @property
    def min_identity_level(self) -> str | None:
        """The identity level a resident needs to submit this form (None: anyone may)."""
        level = self.raw.get("min_identity_level")
        return None if level in (None, SELF_ASSERTED) else cast(str, level)

    @property
    def signature_required(self) -> bool:
        """Whether the resident signs the receipt digitally once the form is submitted."""
        return self.raw.get("signature_required") is True

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.raw.get("attachments", []))

    def attachment(self, slot: str) -> dict[str, Any] | None:
        return next((a for a in self.attachments if a["name"] == slot), None)

    @property
    def licence(self) -> dict[str, Any] | None:
        return self.raw.get("licence")

    @cached_property
    def fields(self) -> dict[str, Field]:
        required = set(self.schema.get("required", []))
        return {
            name: Field(name, prop, self.raw["fields"][name], name in required, self.prefill.get(name))
            for name, prop in self.schema["properties"].items()
        }

    @property
    def pages(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.raw["pages"])

    @cached_property
    def validator(self) -> Draft202012Validator:
        """The answers' validator, with format checks (date, email) switched on."""
        return Draft202012Validator(self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    @cached_property
    def field_order(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(name for page in self.pages for name in page["fields"])}

    def page_fields(self, page: dict[str, Any]) -> list[Field]:
        return [self.fields[name] for name in page["fields"]]
