"""What the forms hub needs from outside, as interfaces the composition root implements.

``DisclosureRecorder`` is the one seam to the consent service: the forms hub never imports
``consent``; ``egate.app`` wires it to the consent port. It is called in the caller's
database session, so the hand-over of a resident's data and its ledger entry commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from sqlalchemy.orm import Session

CHANNEL_FORM_SUBMISSION: Final = "form_submission"
CHANNEL_FORM_PREFILL: Final = "form_prefill"
DisclosureChannel = Literal["form_submission", "form_prefill"]


class DisclosureRecorder(Protocol):
    def record(
        self,
        db: Session,
        *,
        resident_sub: str,
        client_id: str,
        department: str,
        channel: DisclosureChannel,
        fields: Sequence[str],
        purpose: str,
        legal_basis: str,
        request_id: str,
        now: datetime,
        texts: Mapping[str, Any] | None = None,
    ) -> str:
        """Append one ledger entry naming the fields (never their values) that went to
        ``department`` through the forms hub's client ``client_id``; returns the entry id.

        ``texts``: what the resident reads for the entry in both languages, kept beside it and
        never hashed: ``{"purpose": {"en": .., "zh-HK": ..}, "legal_basis": {..}, "fields":
        {name: {"en": .., "zh-HK": ..}}}`` (the form's purpose and question labels).

        ``resident_sub`` is the provider's ``sub`` for the forms hub's own client, which is
        registered with the *public* subject type: it is the resident's account id.
        ``fields`` is sorted and without duplicates. Raising aborts the hand-over.
        """
        ...
