"""The ``claims`` request parameter (OpenID Connect Core §5.5), checked by shape in one place.

Everything downstream (the essential ``acr``, the claims asked for, the ID token's contents)
reads the parameter through :func:`parse_claims_parameter`, so a malformed one is refused here
with ``invalid_request`` and can never reach code that assumes its shape (issue 13, F3: a
``values`` that was a number answered 500).

The shape (§5.5, §5.5.1):

* a JSON object; its members ``userinfo`` and ``id_token`` are objects whose members name
  claims; any other top-level member is not understood and is ignored (§5.5: "any members
  used that are not understood MUST be ignored");
* each claim is requested with ``null`` (the default manner) or an object in which
  ``essential`` is a boolean, ``values`` an array, and other members (``value``, extensions)
  are free; for ``acr`` (§5.5.1.1) ``value`` is a string and ``values`` an array of strings;
* ``verified_claims`` (OpenID Connect for Identity Assurance 1.0 §5.2-5.4) is an object or a
  non-empty array of objects, each with a ``verification`` object naming ``trust_framework``
  and a non-empty ``claims`` object of individual claim requests. Inside ``verification`` every
  member is null, an object (a constraint: ``value``, ``values`` an array, ``max_age`` a
  non-negative number; or a deeper template), or, for ``evidence`` and ``check_details``, an
  array of such objects; an ``evidence`` entry names its ``type`` with ``value``, never
  ``values`` (§5.3). A ``purpose`` is 3 to 300 characters (§5.2).
"""

from __future__ import annotations

import json
import re
from typing import Any

TARGETS = ("userinfo", "id_token")
ACR = "acr"
VERIFIED_CLAIMS = "verified_claims"
CLAIM_NAME_SHOWN = re.compile(r"[A-Za-z0-9_#:.-]{1,64}")
IDA = "OpenID Connect for Identity Assurance"
PURPOSE_LENGTH = range(3, 301)
# Members of ``verification`` whose value is an array of templates (an OR of filters).
FILTER_ARRAYS = ("evidence", "check_details")


class MalformedClaimsRequest(ValueError):
    """The parameter does not have the shape of OIDC Core §5.5. The message says where, in
    printable ASCII without quotes or backslashes: it becomes an OAuth ``error_description``
    (RFC 6749 §5.2), which Authlib refuses to send otherwise."""


def parse_claims_parameter(text: str) -> dict[str, Any]:
    """The parameter's ``userinfo`` and ``id_token`` requests, checked; members we do not
    understand are dropped. Raises :class:`MalformedClaimsRequest`."""
    try:
        document = json.loads(text)
    except ValueError:
        raise MalformedClaimsRequest("claims must be a JSON object (OIDC Core section 5.5).") from None
    if not isinstance(document, dict):
        raise MalformedClaimsRequest("claims must be a JSON object (OIDC Core section 5.5).")
    return {target: _claim_requests(target, document[target]) for target in TARGETS if target in document}


def _claim_requests(target: str, section: Any) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise MalformedClaimsRequest(
            f"claims.{target} must be an object of claim requests (OIDC Core section 5.5)."
        )
    for name, request in section.items():
        if name == VERIFIED_CLAIMS:
            _check_verified_claims(target, request)
        else:
            _check_claim_request(f"claims.{target}.{_printable(name)}", request, strings_only=name == ACR)
    return section


def _check_claim_request(where: str, request: Any, *, strings_only: bool) -> None:
    """One individual claim's request (OIDC Core §5.5.1)."""
    if request is None:
        return
    if not isinstance(request, dict):
        raise MalformedClaimsRequest(f"{where} must be null or an object (OIDC Core section 5.5.1).")
    if "essential" in request and not isinstance(request["essential"], bool):
        raise MalformedClaimsRequest(f"{where}.essential must be true or false (OIDC Core section 5.5.1).")
    if "values" in request and not isinstance(request["values"], list):
        raise MalformedClaimsRequest(f"{where}.values must be an array (OIDC Core section 5.5.1).")
    if "max_age" in request and not _non_negative_number(request["max_age"]):
        raise MalformedClaimsRequest(f"{where}.max_age must be a non-negative number ({IDA} section 5.4).")
    if strings_only:
        values = request.get("values", [])
        if ("value" in request and not isinstance(request["value"], str)) or not all(
            isinstance(value, str) for value in values
        ):
            raise MalformedClaimsRequest(f"{where}: acr values are strings (OIDC Core section 5.5.1.1).")


def verified_claims_requests(section: Any) -> list[dict[str, Any]]:
    """The ``verified_claims`` requests of one checked target section, as a list (the member
    is an object or an array of them)."""
    if not isinstance(section, dict):
        return []
    request = section.get(VERIFIED_CLAIMS)
    items = request if isinstance(request, list) else [request]
    return [item for item in items if isinstance(item, dict)]


def _check_verified_claims(target: str, request: Any) -> None:
    items = request if isinstance(request, list) else [request]
    where = f"claims.{target}.verified_claims"
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedClaimsRequest(f"{where} must be an object or an array of objects ({IDA} section 5.2).")
    for index, item in enumerate(items):
        here = f"{where}[{index}]" if isinstance(request, list) else where
        verification = item.get("verification")
        if not isinstance(verification, dict) or "trust_framework" not in verification:
            raise MalformedClaimsRequest(
                f"{here}.verification must be an object with trust_framework ({IDA} section 5.3)."
            )
        _check_template(f"{here}.verification", verification)
        claims = item.get("claims")
        if not isinstance(claims, dict) or not claims:
            raise MalformedClaimsRequest(f"{here}.claims must be a non-empty object ({IDA} section 5.2).")
        for name, claim_request in claims.items():
            claim_where = f"{here}.claims.{_printable(name)}"
            _check_claim_request(claim_where, claim_request, strings_only=False)
            _check_purpose(claim_where, claim_request)


def _check_template(where: str, template: dict[str, Any]) -> None:
    """A ``verification`` template: constraints on leaves, deeper templates, filter arrays."""
    _check_claim_request(where, template, strings_only=False)
    _check_purpose(where, template)
    for name, member in template.items():
        if name in ("essential", "values", "value", "max_age", "purpose"):
            continue
        member_where = f"{where}.{_printable(name)}"
        if name in FILTER_ARRAYS:
            if not isinstance(member, list) or not all(isinstance(entry, dict) for entry in member):
                raise MalformedClaimsRequest(
                    f"{member_where} must be an array of objects ({IDA} section 5.3)."
                )
            for entry in member:
                if name == "evidence" and isinstance(entry.get("type"), dict) and "values" in entry["type"]:
                    raise MalformedClaimsRequest(
                        f"{member_where}.type takes value, not values ({IDA} section 5.3)."
                    )
                _check_template(member_where, entry)
        elif member is not None:
            if not isinstance(member, dict):
                raise MalformedClaimsRequest(f"{member_where} must be null or an object ({IDA} section 5.3).")
            _check_template(member_where, member)


def _check_purpose(where: str, request: Any) -> None:
    if not isinstance(request, dict) or "purpose" not in request:
        return
    purpose = request["purpose"]
    if not isinstance(purpose, str) or len(purpose) not in PURPOSE_LENGTH:
        raise MalformedClaimsRequest(f"{where}.purpose must be 3 to 300 characters ({IDA} section 5.2).")


def _non_negative_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _printable(name: str) -> str:
    """A claim name as the error message may repeat it (the client chose it: it may hold any
    character)."""
    return name if CLAIM_NAME_SHOWN.fullmatch(name) else "(a claim)"
