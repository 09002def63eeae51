"""Authentication context: the ``acr`` levels and ``amr`` values the provider reports.

``amr`` values are from RFC 8176 §2 ("pwd", "otp", "mfa", "swk"). ``acr`` values are our own
URNs, ordered by strength, like GOV.UK One Login's Cl / Cm levels.
"""

from __future__ import annotations

ACR_BASIC = "urn:egate:acr:basic"  # password only
ACR_MFA = "urn:egate:acr:mfa"  # password + one-time code (TOTP or recovery code)
ACR_DEVICE = "urn:egate:acr:device"  # approved on a bound device with its key (the app)

ACR_ORDER = [ACR_BASIC, ACR_MFA, ACR_DEVICE]
ACR_VALUES_SUPPORTED = list(ACR_ORDER)

AMR_PASSWORD = "pwd"
AMR_OTP = "otp"
AMR_MFA = "mfa"
AMR_SOFTWARE_KEY = "swk"


def acr_satisfies(achieved: str, requested: str) -> bool:
    """True when the achieved level is at least the requested one (unknown never satisfies)."""
    if achieved not in ACR_ORDER or requested not in ACR_ORDER:
        return False
    return ACR_ORDER.index(achieved) >= ACR_ORDER.index(requested)


def strongest_satisfying(requested: list[str]) -> str | None:
    """The weakest known level among the requested ones: what a sign-in must reach."""
    known = [value for value in requested if value in ACR_ORDER]
    return min(known, key=ACR_ORDER.index) if known else None


# Identity assurance: how well the person behind the account was proofed, separate from how
# strongly this sign-in was authenticated (``acr``), as NIST SP 800-63 separates IAL from AAL.
# An account's level only rises, and only through proofing by a registration officer
# (identity/proofing/): self-enrolment at /enrol is self-asserted.
IAL_SELF_ASSERTED = "self_asserted"  # typed in at /enrol; nothing checked
IAL_REMOTE = "remote"  # identity-card image uploaded and checked by a registration officer
IAL_IN_PERSON = "in_person"  # a registration officer saw the identity card at a counter

IAL_ORDER = [IAL_SELF_ASSERTED, IAL_REMOTE, IAL_IN_PERSON]
PROOFED_LEVELS = (IAL_REMOTE, IAL_IN_PERSON)


def ial_satisfies(achieved: str, required: str) -> bool:
    """True when the account's identity level is at least ``required`` (unknown never does)."""
    if achieved not in IAL_ORDER or required not in IAL_ORDER:
        return False
    return IAL_ORDER.index(achieved) >= IAL_ORDER.index(required)
