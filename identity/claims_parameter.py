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
* ``verified_claims`` (OpenID Connect for Identity Assurance §5.1) is an object or an array
  of objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

TARGETS = ("userinfo", "id_token")
ACR = "acr"
VERIFIED_CLAIMS = "verified_claims"
CLAIM_NAME_SHOWN = re.compile(r"[A-Za-z0-9_#:.-]{1,64}")


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
    if strings_only:
        values = request.get("values", [])
        if ("value" in request and not isinstance(request["value"], str)) or not all(
            isinstance(value, str) for value in values
        ):
            raise MalformedClaimsRequest(f"{where}: acr values are strings (OIDC Core section 5.5.1.1).")


def _check_verified_claims(target: str, request: Any) -> None:
    items = request if isinstance(request, list) else [request]
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedClaimsRequest(
            f"claims.{target}.verified_claims must be an object or an array of objects"
            " (OpenID Connect for Identity Assurance section 5.1)."
        )


def _printable(name: str) -> str:
    """A claim name as the error message may repeat it (the client chose it: it may hold any
    character)."""
    return name if CLAIM_NAME_SHOWN.fullmatch(name) else "(a claim)"
