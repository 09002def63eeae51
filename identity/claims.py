"""The claims the provider can release about a resident, and which scope asks for which.

Standard claims follow OpenID Connect Core §5.1; the Chinese name is the language-tagged
``name#zh-HK`` (§5.2); the identity-document number is our own ``hkid_number`` claim and is
released only under its own scope and the resident's consent.
"""

from __future__ import annotations

NAME = "name"  # English name as on the identity card
NAME_ZH = "name#zh-HK"  # Chinese name, when the resident has one
BIRTHDATE = "birthdate"  # YYYY-MM-DD
GENDER = "gender"  # "female" | "male" | "other"
EMAIL = "email"
EMAIL_VERIFIED = "email_verified"
PHONE = "phone_number"  # E.164, e.g. +85291234567
PHONE_VERIFIED = "phone_number_verified"
ADDRESS = "address"  # {"formatted": ..., "country": "HK"} (§5.1.1)
HKID = "hkid_number"  # canonical form, e.g. A123456(3)

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (NAME, NAME_ZH, BIRTHDATE, GENDER),
    "email": (EMAIL, EMAIL_VERIFIED),
    "phone": (PHONE, PHONE_VERIFIED),
    "address": (ADDRESS,),
    "hkid": (HKID,),
}
# Verification flags travel with their claim: consenting to "email" covers "email_verified".
COMPANION_CLAIMS = {EMAIL_VERIFIED: EMAIL, PHONE_VERIFIED: PHONE}
ALL_RESIDENT_CLAIMS = tuple(claim for claims in SCOPE_CLAIMS.values() for claim in claims)
