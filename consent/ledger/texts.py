"""What a person is shown for a ledger entry, in English and Traditional Chinese.

A ledger entry holds one language's words (its ``purpose`` and ``legal_basis`` are what the
recorder stated, usually English) and field names, and it is hashed as it is: it must not
change. Whoever records a disclosure may also give the words a person should read, in both
languages (``texts``: ``purpose`` and ``legal_basis`` as ``{"en": .., "zh-HK": ..}``, ``fields``
as ``{name: {"en": .., "zh-HK": ..}}``); they are stored beside the entry
(``consent_ledger_entry_texts``), never hashed, and the entry, its proofs, its export and the
offline verifier stay as they were. They are presentation only: what the ledger vouches for
is the entry itself, which the resident can still download.

An entry released under a consent grant also reads its purpose from the grant, which the
resident agreed to in both languages, as long as the grant's English purpose is the entry's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy.orm import Session

from consent.ledger import repository
from consent.ledger.service import DisclosureView

LANGUAGES = ("en", "zh-HK")
PARTS = ("purpose", "legal_basis")
MAX_TEXT = 1000
MAX_FIELDS = 500


def _pair(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {
        language: text[:MAX_TEXT]
        for language in LANGUAGES
        if isinstance(text := value.get(language), str) and text.strip()
    }


def clean(texts: Mapping[str, Any] | None) -> dict[str, Any]:
    """``texts`` as stored: only the known parts and languages, non-empty, bounded."""
    if not texts:
        return {}
    kept: dict[str, Any] = {part: pair for part in PARTS if (pair := _pair(texts.get(part)))}
    labels = texts.get("fields")
    if isinstance(labels, Mapping):
        named = {
            name: pair
            for name, value in list(labels.items())[:MAX_FIELDS]
            if isinstance(name, str) and (pair := _pair(value))
        }
        if named:
            kept["fields"] = named
    return kept


@dataclass(frozen=True)
class ShownDisclosure(DisclosureView):
    """A ledger entry with the words a person reads for it (``texts``, see the module)."""

    texts: Mapping[str, Any] = field(default_factory=dict)

    def text(self, part: str, language: str) -> str | None:
        """The ``purpose`` or ``legal_basis`` in ``language``, None when only the entry's own
        words are known."""
        pair = self.texts.get(part)
        return pair.get(language) if isinstance(pair, Mapping) else None

    def field_label(self, name: str, language: str) -> str | None:
        labels = self.texts.get("fields")
        pair = labels.get(name) if isinstance(labels, Mapping) else None
        return pair.get(language) if isinstance(pair, Mapping) else None


def record(db: Session, entry_id: str, texts: Mapping[str, Any] | None) -> None:
    """Keep ``texts`` beside the entry ``entry_id`` (in the caller's transaction)."""
    kept = clean(texts)
    if kept:
        repository.add_entry_texts(db, entry_id, kept)


def shown(
    db: Session, views: Sequence[DisclosureView], grant_purposes: Mapping[str, tuple[str, str]]
) -> list[ShownDisclosure]:
    """``views`` with their texts: those recorded beside each entry, and for an entry under a
    grant whose English purpose is the entry's, the grant's purpose in both languages."""
    stored = repository.entry_texts(db, [view.entry_id for view in views])
    result = []
    for view in views:
        texts = dict(stored.get(view.entry_id, {}))
        purpose = grant_purposes.get(view.grant_id or "")
        if "purpose" not in texts and purpose and purpose[0] == view.purpose:
            texts["purpose"] = {"en": purpose[0], "zh-HK": purpose[1]}
        values = {f.name: getattr(view, f.name) for f in fields(DisclosureView)}
        result.append(ShownDisclosure(**values, texts=texts))
    return result
