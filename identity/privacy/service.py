"""The resident's disclosure record as they read it: each entry's purpose and legal basis in
the page's language.

A ledger entry keeps the words it was recorded with (English) and is hashed as it is, so the
translation is found when the page is shown, never written into the entry: the texts the
recorder gave in both languages (the forms hub, signing) or the consent grant's purpose,
through the consent port; else, for a release to a department client, the client's own
Chinese purpose or name when the entry's purpose is the client's English one. Failing all,
the entry's own words are shown, marked as English.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from identity.clients import repository as clients
from identity.clients.models import Client
from identity.consent_port import DisclosureRecord
from kit.i18n import CHINESE, ENGLISH


@dataclass(frozen=True)
class Words:
    """A text and the language it is in (for ``lang`` on the page when it is not the page's)."""

    text: str
    language: str


@dataclass(frozen=True)
class ShownEntry:
    entry: DisclosureRecord
    purpose: Words
    legal_basis: Words | None


def _client_purpose(entry: DisclosureRecord, client: Client | None) -> str | None:
    if client is None:
        return None
    if client.purpose and entry.purpose == client.purpose:
        return client.purpose_zh
    if entry.purpose == client.name:
        return client.name_zh
    return None


def _words(entry: DisclosureRecord, part: str, own: str, language: str, fallback: str | None) -> Words:
    if text := entry.text(part, language):
        return Words(text, language)
    if language == CHINESE and fallback:
        return Words(fallback, CHINESE)
    return Words(own, ENGLISH)


def shown_entries(db: Session, entries: Sequence[DisclosureRecord], language: str) -> list[ShownEntry]:
    ids = {entry.recipient_client_id for entry in entries}
    known = {client_id: clients.get(db, client_id) for client_id in ids} if language == CHINESE else {}
    return [
        ShownEntry(
            entry=entry,
            purpose=_words(
                entry,
                "purpose",
                entry.purpose,
                language,
                _client_purpose(entry, known.get(entry.recipient_client_id)),
            ),
            legal_basis=(
                _words(entry, "legal_basis", entry.legal_basis, language, None) if entry.legal_basis else None
            ),
        )
        for entry in entries
    ]
