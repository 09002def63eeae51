"""The claims the provider can release about a resident, and which scope asks for which;
the scopes that act as a role, and who may hold them.

Standard claims follow OpenID Connect Core §5.1; the Chinese name is the language-tagged
``name#zh-HK`` (§5.2); the identity-document number is our own ``hkid_number`` claim and is
released only under its own scope and the resident's consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from identity.claims_parameter import TARGETS, VERIFIED_CLAIMS, verified_claims_requests

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

# A claim asked for inside ``verified_claims`` (OpenID Connect for Identity Assurance) is its
# own field for consent and in the disclosure ledger: "verified_claims.name" is the name a
# registration officer checked against the identity card, "name" the one on the profile.
VERIFIED_FIELD_PREFIX = f"{VERIFIED_CLAIMS}."


def verified_field(name: str) -> str:
    return VERIFIED_FIELD_PREFIX + name


def is_verified_field(field: str) -> bool:
    return field.startswith(VERIFIED_FIELD_PREFIX)


def verified_claim_of(field: str) -> str:
    """``verified_claims.name`` -> ``name``."""
    return field.removeprefix(VERIFIED_FIELD_PREFIX)


# Staff roles (an account's ``roles``), released in the ``roles`` claim (RFC 9068 §2.2.3.1).
ROLES = "roles"
OFFICER = "officer"
AUDITOR = "auditor"
ADMIN = "admin"
REGISTRAR = "registrar"  # registration officer: proofs residents' identity (identity/proofing)
STAFF_ROLES = (OFFICER, AUDITOR, ADMIN, REGISTRAR)

# Scopes that act as a role. Registering a client for one lets the client ASK for it; a token
# carries it only when the holder has the role: for a person, the role on their staff account;
# for a client's own client_credentials token, the client's registration (an audit system).
# Defends against a resident or an officer reading every resident's disclosures because they
# signed in through a client that happens to be registered with ``ledger:audit``.
PERSON_SCOPE_ROLES: dict[str, str] = {"ledger:audit": AUDITOR, "forms:department": OFFICER}
CLIENT_SCOPE_ROLES: dict[str, str] = {"ledger:audit": AUDITOR}


def scopes_held(scopes: Iterable[str], roles: Iterable[str], scope_roles: dict[str, str]) -> list[str]:
    """``scopes`` without the role-bound ones whose role is not among ``roles``, in order."""
    held = set(roles)
    return [s for s in scopes if s not in scope_roles or scope_roles[s] in held]


def roles_behind(scopes: Iterable[str], roles: Iterable[str], scope_roles: dict[str, str]) -> list[str]:
    """The holder's ``roles`` that the granted ``scopes`` call for (the ``roles`` claim)."""
    wanted = {scope_roles[s] for s in scopes if s in scope_roles}
    return sorted(wanted & set(roles))


def claims_for_scope(scope: str) -> list[str]:
    names: list[str] = []
    for item in scope.split():
        names.extend(SCOPE_CLAIMS.get(item, ()))
    return names


def requested_claims(
    scope: str, claims_request: dict[str, Any] | None, allowed_scopes: Iterable[str]
) -> list[str]:
    """Claims asked for by scope (OIDC Core §5.4) and by the ``claims`` parameter (§5.5),
    limited to what the client's registered scopes (``allowed_scopes``) allow, in a stable
    order: the ordinary ones, then those asked for inside ``verified_claims`` as their
    verified fields (``verified_claims.name``)."""
    wanted = set(claims_for_scope(scope))
    verified: set[str] = set()
    for target in TARGETS:
        section = (claims_request or {}).get(target) or {}
        wanted.update(name for name in section if isinstance(name, str))
        for request in verified_claims_requests(section):
            verified.update(name for name in request.get("claims") or {} if isinstance(name, str))
    allowed = set(claims_for_scope(" ".join(allowed_scopes)))
    ordinary = [name for name in ALL_RESIDENT_CLAIMS if name in wanted and name in allowed]
    return ordinary + [verified_field(n) for n in ALL_RESIDENT_CLAIMS if n in verified and n in allowed]


def consent_fields(names: Iterable[str]) -> tuple[str, ...]:
    """Verification flags ride on their claim: consent is asked for the claim itself."""
    return tuple(dict.fromkeys(COMPANION_CLAIMS.get(n, n) for n in names))


def fields_covered(granted: Iterable[str], names: Iterable[str]) -> list[str]:
    granted_set = set(granted)
    return [n for n in names if COMPANION_CLAIMS.get(n, n) in granted_set]
