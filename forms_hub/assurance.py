"""OpenID Connect for Identity Assurance 1.0 (OIDC4IDA) as the hub reads it: the identity
levels, which identity claims can come verified, the ``claims`` request that asks for them
(OIDC4IDA §6, inside OIDC Core §5.5), and what a userinfo release's ``verified_claims``
(OIDC4IDA §5) establish.

Defended against: a self-declared value passed off as verified. Only a value inside a
``verified_claims`` element whose ``verification`` names our trust framework with a proofed
``assurance_level`` counts as verified; an ordinary claim of the same name never does, and a
``verified_claims`` element of another trust framework, of an unknown level or of the wrong
shape is ignored (the release then shows no proofed identity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERIFIED_CLAIMS = "verified_claims"
# The gateway's registration rules (OIDC4IDA §5.1 ``trust_framework``): the only one the
# hub relies on.
TRUST_FRAMEWORK = "hk_egate"

# Identity levels, weakest first: typed in by the resident; identity card checked remotely
# by a registration officer; identity card seen by a registration officer at a counter.
SELF_ASSERTED = "self_asserted"
REMOTE = "remote"
IN_PERSON = "in_person"
IDENTITY_LEVELS = (SELF_ASSERTED, REMOTE, IN_PERSON)
PROOFED_LEVELS = (REMOTE, IN_PERSON)

# The identity claims a registration officer checks against the identity card: the only ones
# that can come verified. Other claims (email, phone_number, address) are always self-declared.
VERIFIABLE_CLAIMS = ("name", "name#zh-HK", "birthdate", "gender", "hkid_number")
# A request for verified_claims must name at least one claim; when a form needs the level
# but prefills no verifiable claim, the hub asks for this one (and keeps nothing of it).
LEVEL_PROBE_CLAIM = "name"


def level_satisfies(achieved: str | None, required: str | None) -> bool:
    """True when ``achieved`` is at least ``required`` (no requirement: always; an unknown
    or missing level never satisfies one)."""
    if required is None or required == SELF_ASSERTED:
        return True
    if achieved not in IDENTITY_LEVELS or required not in IDENTITY_LEVELS:
        return False
    return IDENTITY_LEVELS.index(achieved) >= IDENTITY_LEVELS.index(required)


def claims_request(claims: Iterable[str], *, with_level: bool) -> dict[str, Any]:
    """The ``claims`` parameter for a userinfo release of ``claims``.

    Every claim is asked for as an ordinary claim (so a resident who is not proofed still gets
    the value, as self-declared); the verifiable ones are asked for inside ``verified_claims``
    too, under our trust framework and with the ``assurance_level``. ``with_level``: ask for
    ``verified_claims`` even when no verifiable claim is wanted (the form needs the level)."""
    names = list(dict.fromkeys(claims))
    userinfo: dict[str, Any] = {name: None for name in names}
    verifiable = [name for name in names if name in VERIFIABLE_CLAIMS]
    if with_level and not verifiable:
        verifiable = [LEVEL_PROBE_CLAIM]
    if verifiable:
        userinfo[VERIFIED_CLAIMS] = {
            "verification": {"trust_framework": {"value": TRUST_FRAMEWORK}, "assurance_level": None},
            "claims": {name: None for name in verifiable},
        }
    return {"userinfo": userinfo}


@dataclass(frozen=True)
class Assurance:
    """What one release establishes: the identity level (``self_asserted`` when it carries no
    usable ``verified_claims``) and the verified values, with when the identity was proofed."""

    level: str = SELF_ASSERTED
    claims: Mapping[str, str] = field(default_factory=dict)
    verified_at: str | None = None

    def verified_value(self, claim: str) -> str | None:
        return self.claims.get(claim) if claim in VERIFIABLE_CLAIMS else None


def assurance_of(userinfo: Mapping[str, Any]) -> Assurance:
    """The strongest usable ``verified_claims`` element of a userinfo response (an object or
    an array of objects, OIDC4IDA §5), or a self-asserted :class:`Assurance`."""
    found = userinfo.get(VERIFIED_CLAIMS)
    elements = found if isinstance(found, list) else [found]
    usable = [a for a in (_element(e) for e in elements) if a is not None]
    if not usable:
        return Assurance()
    return max(usable, key=lambda a: IDENTITY_LEVELS.index(a.level))


def _element(element: Any) -> Assurance | None:
    if not isinstance(element, dict):
        return None
    verification, claims = element.get("verification"), element.get("claims")
    if not isinstance(verification, dict) or not isinstance(claims, dict):
        return None
    level = verification.get("assurance_level")
    if verification.get("trust_framework") != TRUST_FRAMEWORK or level not in PROOFED_LEVELS:
        return None
    values = {
        name: str(value)
        for name, value in claims.items()
        if name in VERIFIABLE_CLAIMS and isinstance(value, str | int) and not isinstance(value, bool)
    }
    when = verification.get("time")
    return Assurance(level=level, claims=values, verified_at=when if isinstance(when, str) else None)
