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
