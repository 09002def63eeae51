"""What the provider asks of the consent service, as an interface (STYLE.md: Warehouse's
interfaces). `consent` implements it without importing identity; `egate` wires the two.

Every release of claims about a resident goes through ``record_disclosure`` in the same
database transaction as the release itself, so a release is never without its ledger entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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


@dataclass(frozen=True)
class ConsentDecision:
    """``grant_id`` is set when a remembered, unexpired, unrevoked grant covers every field."""

    grant_id: str | None
    missing_fields: tuple[str, ...]


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
    ) -> str:
        """Append one ledger entry (field names only, never values); returns its entry id."""
