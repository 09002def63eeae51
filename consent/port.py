"""The consent service as the identity provider sees it: ``LedgerConsentPort`` has the
shape of ``identity.consent_port.ConsentPort`` (matched structurally; consent never imports
identity) plus the read API the resident's account pages use.

Every method works in the caller's session and never commits: a release of claims and its
ledger entry commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from consent.config import ConsentConfig, ledger_origin
from consent.grants import service as grants
from consent.grants.service import GrantCoverage, GrantRequest, GrantView
from consent.ledger import service as ledger
from consent.ledger import texts as entry_texts
from consent.ledger.integrity import LedgerIntegrity
from consent.ledger.service import Disclosure, Ledger, LedgerStateError
from consent.ledger.texts import ShownDisclosure
from kit.db import utcnow
from kit.failures import RETRY_AFTER_SECONDS, Failure, FailureFormat
from kit.i18n import N_
from kit.runtime import Runtime

LEDGER_REFUSED = Failure(
    503,
    N_("Service unavailable"),
    N_(
        "The disclosure ledger failed its integrity check, so nothing can be released just now."
        " Nothing was changed."
    ),
    "temporarily_unavailable",
    {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
)


class LedgerConsentPort:
    """Consent grants and the disclosure ledger behind the provider's ``ConsentPort``.

    Built with the runtime, appends also sign checkpoints as ``config.checkpoints`` says
    (the signing key is sealed under the runtime's master secret). Built without one, it
    records and checks everything the same way and leaves signing to the consent app, the
    ``egate ledger checkpoint`` command or a port that has the runtime.
    """

    def __init__(self, runtime: Runtime | None = None, config: ConsentConfig | None = None) -> None:
        # The runtime is unpacked here: the services below receive what they use.
        if config is None:
            config = ConsentConfig.from_settings(runtime.settings) if runtime else ConsentConfig()
        self.config = config
        self._clock: Callable[[], datetime] = runtime.clock if runtime else utcnow
        self.ledger = Ledger(
            origin=ledger_origin(runtime.settings.issuer if runtime else "http://localhost"),
            master_key=runtime.master_key if runtime else None,
            policy=self.config.checkpoints,
            integrity=LedgerIntegrity(self.config.integrity),
        )

    # -- identity.consent_port.ConsentPort ------------------------------------------------

    def find_covering_grant(self, db: Session, request: GrantRequest, now: datetime) -> GrantCoverage:
        return grants.find_covering_grant(db, request, now)

    def record_grant(
        self,
        db: Session,
        request: GrantRequest,
        *,
        remember: bool,
        given_via: str,
        now: datetime,
    ) -> str:
        return grants.record_grant(
            db, request, remember=remember, given_via=given_via, now=now, policy=self.config.grants
        )

    def grant_is_valid(self, db: Session, grant_id: str, now: datetime) -> bool:
        return grants.grant_is_valid(db, grant_id, now)

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
        """Accept one ledger entry (field names only) in the caller's transaction: it is
        queued, shown to readers at once as pending, and given its index in the tree by the
        ledger's sequencer shortly after the transaction commits (consent.ledger.sequencer).

        The basis is ``consent`` with a grant, ``legal`` with a legal basis, and
        ``sign-in`` with neither (a sign-in that released only the pairwise ``sub``).
        Raises ``consent.ledger.service.InvalidDisclosure`` for an entry the ledger cannot
        hold (no fields, empty names), and ``LedgerStateError`` when the ledger failed its
        integrity check: the release must then not happen (see :func:`answer_ledger_refusals`).

        ``texts``: the words a person reads for this entry in English and Chinese, kept
        beside it and never hashed (see consent.ledger.texts).
        """
        disclosure = Disclosure(
            resident_id=resident_id,
            recipient_client_id=client_id,
            recipient_department=department,
            channel=channel,
            fields=fields,
            purpose=purpose,
            grant_id=grant_id,
            legal_basis=legal_basis,
            request_id=request_id,
        )
        entry_id = self.ledger.enqueue(db, disclosure, now)
        entry_texts.record(db, entry_id, texts)
        return entry_id

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
    ) -> list[ShownDisclosure]:
        """The resident's own entries, newest first, with the words they read for each in
        both languages (consent.ledger.texts)."""
        views = ledger.list_disclosures(
            db, resident_id, department=department, since=since, until=until, limit=limit
        )
        purposes = grants.purposes_of(db, [view.grant_id for view in views if view.grant_id])
        return entry_texts.shown(db, views, purposes)

    def list_grants(self, db: Session, resident_id: str, now: datetime | None = None) -> list[GrantView]:
        """With each grant's status at ``now`` (default: the runtime's clock)."""
        return grants.list_grants(db, resident_id, now or self._clock())

    def revoke_grant(
        self,
        db: Session,
        resident_id: str,
        grant_id: str,
        now: datetime,
        by: str = grants.REVOKED_BY_RESIDENT,
    ) -> GrantView:
        """Raises ``consent.grants.service.GrantNotFound`` for another resident's grant."""
        return grants.revoke_grant(db, resident_id, grant_id, now, by)


def answer_ledger_refusals(app: FastAPI) -> None:
    """Let the app of a service recording disclosures through this port answer a refused
    append (``LedgerStateError``: the ledger is inconsistent) as a 503 in its own failure
    format (``app.state.answer_failure``), never a 500."""
    answer: FailureFormat = app.state.answer_failure

    async def refused(request: Request, _error: Exception) -> Response:
        return answer(request, LEDGER_REFUSED)

    app.add_exception_handler(LedgerStateError, refused)
