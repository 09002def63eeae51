"""What a proofing established, as OpenID Connect for Identity Assurance 1.0 describes it.

The approved proofing with the highest level (the latest among equals) is the account's
verification. Its ``claims`` are the sealed snapshot the officer checked against the identity
card, never the profile: a self-asserted value can never appear inside ``verified_claims``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.assurance import IAL_ORDER
from identity.proofing.models import IdentityProofing
from identity.security.keyring import Keyring

# Our trust framework (OIDC4IDA §5.1 ``trust_framework``): the gateway's own registration
# rules, under which ``assurance_level`` is one of identity.assurance.PROOFED_LEVELS.
TRUST_FRAMEWORK = "hk_egate"
EVIDENCE_TYPE = "document"
DOCUMENT_TYPES = ("idcard",)
CHECK_METHODS = ("vpip", "vri")  # card validated in person; image validated remotely
DOCUMENT_ISSUER = {"name": "Immigration Department", "country_code": "HKG"}
# The claims a registration officer checks against the identity card.
CLAIMS_IN_VERIFIED_CLAIMS = ("name", "name#zh-HK", "birthdate", "gender", "hkid_number")
APPROVED = "approved"


@dataclass(frozen=True)
class Verification:
    proofing_id: str
    level: str
    check_method: str
    document_type: str
    verified_at: datetime
    organization: str
    claims: dict[str, Any]

    def verification_element(self) -> dict[str, Any]:
        """The ``verification`` element of ``verified_claims`` (OIDC4IDA §5)."""
        when = self.verified_at.isoformat().replace("+00:00", "Z")
        return {
            "trust_framework": TRUST_FRAMEWORK,
            "assurance_level": self.level,
            "time": when,
            "verification_process": self.proofing_id,
            "evidence": [
                {
                    "type": EVIDENCE_TYPE,
                    "check_details": [
                        {"check_method": self.check_method, "organization": self.organization, "time": when}
                    ],
                    "document_details": {"type": self.document_type, "issuer": dict(DOCUMENT_ISSUER)},
                }
            ],
        }


def _claims_context(proofing_id: str) -> str:
    return f"proofing.claims:{proofing_id}"


def seal_verified_claims(keyring: Keyring, proofing: IdentityProofing, claims: dict[str, Any]) -> None:
    """Stores the checked values on the proofing (only the claims an officer checks)."""
    kept = {name: value for name, value in claims.items() if name in CLAIMS_IN_VERIFIED_CLAIMS and value}
    plaintext = json.dumps(kept, ensure_ascii=False, sort_keys=True)
    proofing.verified_claims_encrypted = keyring.fields.encrypt(
        plaintext, context=_claims_context(proofing.id)
    )


def _open_claims(keyring: Keyring, proofing: IdentityProofing) -> dict[str, Any]:
    if proofing.verified_claims_encrypted is None:
        return {}
    text = keyring.fields.decrypt(proofing.verified_claims_encrypted, context=_claims_context(proofing.id))
    claims: dict[str, Any] = json.loads(text)
    return claims


def current_verification(
    db: Session, keyring: Keyring, account_id: str, *, organization: str = "eGate Registration Office"
) -> Verification | None:
    """The account's strongest approved proofing, or None when it has none (self-asserted)."""
    rows = db.scalars(
        select(IdentityProofing).where(
            IdentityProofing.account_id == account_id, IdentityProofing.status == APPROVED
        )
    ).all()
    if not rows:
        return None
    best = max(rows, key=lambda row: (IAL_ORDER.index(row.level), row.decided_at or row.requested_at))
    return Verification(
        proofing_id=best.id,
        level=best.level,
        check_method=best.check_method,
        document_type=best.document_type,
        verified_at=best.decided_at or best.requested_at,
        organization=organization,
        claims=_open_claims(keyring, best),
    )
