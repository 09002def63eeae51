"""Consent grants: recording a resident's agreement, finding one that covers a request,
checking it on every release, listing and revoking them for the resident.

A grant names the exact fields, the client (and its department) and the purpose shown to
the resident in both languages. A remembered grant is offered again until it expires or
is revoked; a per-request grant covers only the release flow it was given in — tokens of
that flow keep checking it through :func:`grant_is_valid` — and is never offered again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from consent.config import GrantPolicy
from consent.grants import repository
from consent.grants.models import ConsentGrant

REVOKED_BY_RESIDENT = "resident"
# The account was suspended (its identity-card number recovered by the proofed holder).
REVOKED_BY_SUSPENSION = "suspension"
REVOKERS = (REVOKED_BY_RESIDENT, REVOKED_BY_SUSPENSION)

STATUS_ACTIVE = "active"
STATUS_EXPIRED = "expired"
STATUS_REVOKED = "revoked"


class GrantRequest(Protocol):
    """What is asked (matched structurally: identity's frozen ConsentRequest has these).

    Read-only, so that a request holding a narrower type (``fields`` as a tuple) matches."""

    @property
    def resident_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def purpose_en(self) -> str: ...
    @property
    def purpose_zh(self) -> str: ...


class GrantNotFound(LookupError):
    """No grant with this id belongs to this resident."""


@dataclass(frozen=True)
class GrantCoverage:
    """The answer to "is this request covered?" (``grant_id`` and ``missing_fields`` are
    the two attributes the provider reads).

    ``grant_id`` names the live remembered grant covering the most requested fields (they
    can be shown as already agreed); ``missing_fields`` are those it does not cover. The
    request is covered when ``grant_id`` is set and nothing is missing; with no grant at
    all, every field is missing.
    """

    grant_id: str | None
    missing_fields: tuple[str, ...]


@dataclass(frozen=True)
class GrantView:
    grant_id: str
    resident_id: str
    client_id: str
    department: str
    purpose_en: str
    purpose_zh: str
    fields: tuple[str, ...]
    given_at: datetime
    given_via: str
    remembered: bool
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    status: str

    @classmethod
    def of(cls, grant: ConsentGrant, now: datetime) -> GrantView:
        return cls(
            grant_id=grant.grant_id,
            resident_id=grant.resident_id,
            client_id=grant.client_id,
            department=grant.department,
            purpose_en=grant.purpose_en,
            purpose_zh=grant.purpose_zh,
            fields=tuple(grant.fields),
            given_at=grant.given_at,
            given_via=grant.given_via,
            remembered=grant.remembered,
            expires_at=grant.expires_at,
            revoked_at=grant.revoked_at,
            revoked_by=grant.revoked_by,
            status=_status(grant, now),
        )


def _status(grant: ConsentGrant, now: datetime) -> str:
    if grant.revoked_at is not None:
        return STATUS_REVOKED
    if grant.expires_at <= now:
        return STATUS_EXPIRED
    return STATUS_ACTIVE


def _new_grant_id() -> str:
    return "cg-" + secrets.token_hex(16)


def find_covering_grant(db: Session, request: GrantRequest, now: datetime) -> GrantCoverage:
    asked = tuple(dict.fromkeys(request.fields))
    best: tuple[int, ConsentGrant] | None = None
    for grant in repository.live_remembered(
        db,
        resident_id=request.resident_id,
        client_id=request.client_id,
        purpose_en=request.purpose_en,
        now=now,
    ):
        covered = len(set(asked) & set(grant.fields))
        if covered and (best is None or covered > best[0]):
            best = (covered, grant)
    if best is None:
        return GrantCoverage(None, asked)
    granted = set(best[1].fields)
    return GrantCoverage(best[1].grant_id, tuple(f for f in asked if f not in granted))


def record_grant(
    db: Session,
    request: GrantRequest,
    *,
    remember: bool,
    given_via: str,
    now: datetime,
    policy: GrantPolicy,
) -> str:
    fields = sorted(set(request.fields))
    if not fields:
        raise ValueError("a consent grant needs at least one field")
    lifetime = policy.remembered_for if remember else policy.per_request_for
    grant = ConsentGrant(
        grant_id=_new_grant_id(),
        resident_id=request.resident_id,
        client_id=request.client_id,
        department=request.department,
        purpose_en=request.purpose_en,
        purpose_zh=request.purpose_zh,
        fields=fields,
        given_at=now,
        given_via=given_via,
        remembered=remember,
        expires_at=now + lifetime,
    )
    repository.add(db, grant)
    return grant.grant_id


def grant_is_valid(db: Session, grant_id: str, now: datetime) -> bool:
    """Active (``_status``): neither revoked nor expired at ``now``."""
    return repository.in_force(db, grant_id, now)


def list_grants(db: Session, resident_id: str, now: datetime) -> list[GrantView]:
    """Every grant of the resident, newest first, with its status at ``now``."""
    return [GrantView.of(grant, now) for grant in repository.for_resident(db, resident_id)]


def revoke_grant(
    db: Session, resident_id: str, grant_id: str, now: datetime, by: str = REVOKED_BY_RESIDENT
) -> GrantView:
    """Withdraw consent; the next release (including userinfo on a token already issued)
    sees it. Revoking twice keeps the first time. Another resident's grant is not found.
    ``by``: who withdrew it (one of ``REVOKERS``), shown to the resident and auditors."""
    if by not in REVOKERS:
        raise ValueError(f"unknown revoker {by!r}")
    grant = repository.get(db, grant_id)
    if grant is None or grant.resident_id != resident_id:
        raise GrantNotFound(grant_id)
    if grant.revoked_at is None:
        grant.revoked_at = now
        grant.revoked_by = by
        db.flush()
    return GrantView.of(grant, now)


def purposes_of(db: Session, grant_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each grant's stated purpose as ``(English, Chinese)``, by grant id."""
    return repository.purposes(db, sorted(set(grant_ids)))
