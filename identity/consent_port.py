"""What the provider asks of the consent service, as an interface (STYLE.md: Warehouse's
interfaces). `consent` implements it without importing identity; `egate` wires the two.
The account pages also read the resident's own record through it (identity/privacy).

Every release of claims about a resident goes through ``record_disclosure`` in the same
database transaction as the release itself, so a release is never without its ledger entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

# Channels through which claims leave the gateway (the ledger's "channel" field).
CHANNEL_ID_TOKEN = "id_token"
CHANNEL_USERINFO = "userinfo"
CHANNEL_INTROSPECTION = "introspection"


@dataclass(frozen=True)
class ConsentRequest:
    resident_id: str
    client_id: str
    department: str
    fields: tuple[str, ...]  # claim names
    purpose_en: str
    purpose_zh: str


class ConsentDecision(Protocol):
    """``grant_id`` is set when a remembered, unexpired, unrevoked grant covers every field."""

    @property
    def grant_id(self) -> str | None: ...
    @property
    def missing_fields(self) -> tuple[str, ...]: ...


class DisclosureRecord(Protocol):
    """One ledger entry as the resident's pages show it (read-only)."""

    @property
    def entry_id(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def recipient_client_id(self) -> str: ...
    @property
    def recipient_department(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def purpose(self) -> str: ...
    @property
    def basis(self) -> str: ...
    @property
    def grant_id(self) -> str | None: ...
    @property
    def legal_basis(self) -> str | None: ...

    def text(self, part: str, language: str) -> str | None:
        """The entry's ``purpose`` or ``legal_basis`` in ``language`` (en, zh-HK), when the
        recorder or the consent grant gave it; None: only the entry's own words are known."""

    def field_label(self, name: str, language: str) -> str | None:
        """A label of field ``name`` in ``language`` given by the recorder (e.g. a form's
        question), None when there is none."""


class GrantRecord(Protocol):
    """One consent grant as the resident's pages show it (read-only)."""

    @property
    def grant_id(self) -> str: ...
    @property
    def department(self) -> str: ...


class ConsentPort(Protocol):
    def find_covering_grant(self, db: Session, request: ConsentRequest, now: datetime) -> ConsentDecision: ...

    def record_grant(
        self,
        db: Session,
        request: ConsentRequest,
        *,
        remember: bool,
        given_via: str,
        now: datetime,
    ) -> str:
        """Store the resident's agreement; returns the grant id. A per-request grant
        (remember=False) covers one release and is not offered again."""

    def grant_is_valid(self, db: Session, grant_id: str, now: datetime) -> bool:
        """False once revoked or expired: userinfo checks this on every call."""

    def record_disclosure(
        self,
        db: Session,
        *,
        resident_id: str,
        client_id: str,
        department: str,
        channel: str,
        fields: Sequence[str],
        purpose: str,
        grant_id: str | None,
        legal_basis: str | None,
        request_id: str | None,
        now: datetime,
        texts: Mapping[str, Any] | None = None,
    ) -> str:
        """Append one ledger entry (field names only, never values); returns its entry id.
        ``texts``: what a person reads for it in both languages, kept beside the entry and
        never hashed: ``{"purpose": {"en": .., "zh-HK": ..}, "legal_basis": {..},
        "fields": {name: {"en": .., "zh-HK": ..}}}``, each part optional."""

    # -- the resident's account pages -----------------------------------------------------

    def list_disclosures(
        self,
        db: Session,
        resident_id: str,
        *,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[DisclosureRecord]:
        """The resident's own ledger entries, newest first."""

    def list_grants(self, db: Session, resident_id: str) -> Sequence[GrantRecord]: ...

    def revoke_grant(
        self, db: Session, resident_id: str, grant_id: str, now: datetime, by: str = "resident"
    ) -> GrantRecord:
        """Raises ``LookupError`` for an unknown grant or another resident's. ``by``:
        "resident" (the resident withdrew it) or "suspension" (the account was suspended)."""
