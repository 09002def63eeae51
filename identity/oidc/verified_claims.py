"""OpenID Connect for Identity Assurance 1.0: the ``verified_claims`` a department receives.

What a proofing established (identity.proofing.verified.Verification) is matched against the
department's request, one ``verified_claims`` request at a time (§5.2-5.5):

* the ``verification`` template says which members the department wants (``trust_framework``
  always comes, as every ``verification`` must carry it) and may constrain them with
  ``value``, ``values`` or ``max_age``; ``evidence`` and ``check_details`` are arrays of
  filters, OR-ed. A constraint the verification does not meet omits the whole element
  (§5.6.3), never an error;
* ``claims`` names the claims wanted; only those the registration officer checked (the
  sealed snapshot, never the profile) and the resident released come, each omitted when it
  misses its own ``value``/``values``/``max_age``; an element left without claims is omitted.

An account without a verification (self-asserted) never gets an element, however essential
the request says it is: its values are released, if at all, only as ordinary claims.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from identity.claims import is_verified_field, verified_claim_of, verified_field
from identity.claims_parameter import TARGETS, VERIFIED_CLAIMS, verified_claims_requests
from identity.proofing.verified import Verification

# The members each object must keep whatever the template asks (the schema requires them).
REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "verification": ("trust_framework",),
    "evidence": ("type",),
    "check_details": ("check_method",),
    "document_details": ("type",),
}
CONSTRAINT_MEMBERS = frozenset({"value", "values", "max_age", "essential", "purpose"})


def released(
    section: dict[str, Any] | None,
    verification: Verification | None,
    granted: Iterable[str],
    now: datetime,
) -> tuple[dict[str, Any] | list[dict[str, Any]] | None, list[str]]:
    """The ``verified_claims`` member for one target (``userinfo`` or ``id_token``) and the
    ledger fields it discloses (``verified_claims.name``), or ``(None, [])``.

    ``section``: that target's checked request; ``granted``: the fields the resident (or a
    legal basis) released. An object answers an object, an array an array (§5.5)."""
    if verification is None or not section or VERIFIED_CLAIMS not in section:
        return None, []
    allowed = {verified_claim_of(field) for field in granted if is_verified_field(field)}
    elements = [
        element
        for request in verified_claims_requests(section)
        if (element := _element(request, verification, allowed, now)) is not None
    ]
    if not elements:
        return None, []
    fields = sorted({verified_field(name) for element in elements for name in element["claims"]})
    return (elements if isinstance(section[VERIFIED_CLAIMS], list) else elements[0]), fields


def releasable_fields(
    claims_request: dict[str, Any] | None,
    verification: Verification | None,
    requested: Collection[str],
    now: datetime,
) -> set[str]:
    """Of the ``requested`` verified fields, those the verification can answer now in either
    target: what the consent page may ask about (a self-asserted resident: none)."""
    if verification is None or not claims_request:
        return set()
    allowed = {verified_claim_of(field) for field in requested if is_verified_field(field)}
    fields: set[str] = set()
    for target in TARGETS:
        for request in verified_claims_requests(claims_request.get(target)):
            element = _element(request, verification, allowed, now)
            if element is not None:
                fields.update(verified_field(name) for name in element["claims"])
    return fields


def _element(
    request: dict[str, Any], verification: Verification, allowed: Collection[str], now: datetime
) -> dict[str, Any] | None:
    template = request.get("verification")
    shown = _project(template, verification.verification_element(), REQUIRED_MEMBERS["verification"], now)
    if shown is None:
        return None
    claims = {
        name: verification.claims[name]
        for name, constraint in (request.get("claims") or {}).items()
        if name in allowed
        and name in verification.claims
        and _meets(constraint, verification.claims[name], now)
    }
    return {"verification": shown, "claims": claims} if claims else None


def _project(
    template: Any, data: dict[str, Any], required: tuple[str, ...], now: datetime
) -> dict[str, Any] | None:
    """``data`` narrowed to the members ``template`` asks for (and the required ones), or None
    when a constraint in the template is not met."""
    shown = {name: data[name] for name in required if name in data}
    if not isinstance(template, dict):
        return shown
    for name, wanted in template.items():
        if name in CONSTRAINT_MEMBERS:
            continue
        if name not in data:
            if _constrains(wanted):
                return None
            continue
        have = data[name]
        if isinstance(have, list):
            if wanted is None:
                shown[name] = have
                continue
            filters = wanted if isinstance(wanted, list) else [wanted]
            kept = [
                entry
                for item in have
                if (entry := _first_match(filters, item, REQUIRED_MEMBERS.get(name, ()), now)) is not None
            ]
            if not kept:
                return None
            shown[name] = kept
        elif isinstance(have, dict):
            if wanted is None:
                shown[name] = have
                continue
            narrowed = _project(wanted, have, REQUIRED_MEMBERS.get(name, ()), now)
            if narrowed is None:
                return None
            shown[name] = narrowed
        else:
            if not _meets(wanted, have, now):
                return None
            shown[name] = have
    return shown


def _first_match(
    filters: list[Any], item: Any, required: tuple[str, ...], now: datetime
) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    for template in filters:
        narrowed = _project(template, item, required, now)
        if narrowed is not None:
            return narrowed
    return None


def _constrains(template: Any) -> bool:
    """Whether a template puts a constraint anywhere in it (on data we do not have, the
    constraint cannot be met)."""
    if isinstance(template, list):
        return any(_constrains(entry) for entry in template)
    if not isinstance(template, dict):
        return False
    if {"value", "values", "max_age"} & template.keys():
        return True
    return any(_constrains(member) for name, member in template.items() if name not in CONSTRAINT_MEMBERS)


def _meets(constraint: Any, value: Any, now: datetime) -> bool:
    """``value``, ``values`` (OIDC Core §5.5.1) and ``max_age`` (§5.4 of Identity Assurance:
    seconds since a date or time, a date counting from its last second)."""
    if not isinstance(constraint, dict):
        return True
    if "value" in constraint and constraint["value"] != value:
        return False
    if "values" in constraint and value not in constraint["values"]:
        return False
    if "max_age" in constraint:
        moment = _moment(value)
        if moment is None or (now - moment).total_seconds() > constraint["max_age"]:
            return False
    return True


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:  # a date: its last second
            day = datetime.fromisoformat(value).date()
            return datetime.combine(day, time.max, tzinfo=UTC) - timedelta(microseconds=time.max.microsecond)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
