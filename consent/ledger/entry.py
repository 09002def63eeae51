"""A ledger entry and its canonical bytes, the input of its RFC 9162 §2.1.1 leaf hash.

An entry records WHICH fields of a resident went WHERE, WHEN, WHY and under WHICH
consent or legal basis — never the values. It is a JSON object with exactly these keys:

``index``                 int, position in the log, from 0 with no gaps
``entry_id``              str, unique identifier of the disclosure
``recorded_at``           str, RFC 3339 UTC with a ``Z`` suffix (see :func:`rfc3339_utc`)
``resident_id``           str, whose data was disclosed
``recipient_client_id``   str, the OAuth client that received it
``recipient_department``  str, the department operating that client
``channel``               str, how it left (e.g. ``id_token``, ``userinfo``, ``form_prefill``)
``fields``                list[str], the field NAMES disclosed, sorted, no duplicates
``purpose``               str, the stated purpose
``basis``                 ``"consent"``, ``"legal"`` or ``"sign-in"`` (the resident's own
                          sign-in revealed only their ``sub`` to the department they chose)
``grant_id``              str | None, the consent grant relied on (required for consent)
``legal_basis``           str | None, the legal provision relied on (required for legal)
``request_id``            str, the request that caused the disclosure

The leaf hash is ``leaf_hash(canonical_entry_bytes(entry))`` over all of these keys,
``index`` included, so an entry cannot be moved without changing its hash.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from consent.ledger.rfc9162 import leaf_hash

ENTRY_FIELDS = (
    "index",
    "entry_id",
    "recorded_at",
    "resident_id",
    "recipient_client_id",
    "recipient_department",
    "channel",
    "fields",
    "purpose",
    "basis",
    "grant_id",
    "legal_basis",
    "request_id",
)
BASES = ("consent", "legal", "sign-in")

_ENTRY_KEYS = frozenset(ENTRY_FIELDS)
_REQUIRED_STRINGS = (
    "entry_id",
    "recorded_at",
    "resident_id",
    "recipient_client_id",
    "recipient_department",
    "channel",
    "purpose",
    "request_id",
)
_required_strings = operator.itemgetter(*_REQUIRED_STRINGS)
_RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", re.ASCII)

# One encoder reused: json.dumps builds a new one per call when given options.
_canonical_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
canonical_json = _canonical_encoder.encode


def canonical_entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys, no whitespace, non-ASCII kept as UTF-8.

    Entries hold only strings, integers, lists and null, for which this encoding is
    deterministic; it is what the leaf hash covers.
    """
    return canonical_json(entry).encode()


def entry_leaf_hash(entry: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_entry_bytes(entry))


def rfc3339_utc(moment: datetime) -> str:
    """``recorded_at`` text: RFC 3339 §5.6 in UTC with microseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_problem(entry: Mapping[str, Any]) -> str | None:
    """Describe the first way ``entry`` breaks the shape above, or return None."""
    if entry.keys() != _ENTRY_KEYS:
        return _keys_problem(entry)
    for check in _VALUE_CHECKS:
        problem = check(entry)
        if problem:
            return problem
    return None


def _keys_problem(entry: Mapping[str, Any]) -> str:
    missing = sorted(_ENTRY_KEYS - entry.keys())
    unexpected = sorted(entry.keys() - _ENTRY_KEYS)
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected " + ", ".join(unexpected))
    return "entry has " + "; ".join(parts)


def _index_problem(entry: Mapping[str, Any]) -> str | None:
    index = entry["index"]
    if type(index) is not int or index < 0:
        return "entry index must be a non-negative integer"
    return None


def _required_strings_problem(entry: Mapping[str, Any]) -> str | None:
    if _non_empty_strings(_required_strings(entry)):
        return None  # the common case, decided without a loop in Python
    for name in _REQUIRED_STRINGS:
        if type(entry[name]) is not str or not entry[name]:
            return f"entry {name} must be a non-empty string"
    return None


def _fields_problem(entry: Mapping[str, Any]) -> str | None:
    fields = entry["fields"]
    if type(fields) is not list or not fields or not _non_empty_strings(fields):
        return "entry fields must be a non-empty list of field names (non-empty strings)"
    if fields != sorted(set(fields)):
        return "entry fields must be sorted and without duplicates"
    return None


def _recorded_at_problem(entry: Mapping[str, Any]) -> str | None:
    if not _RFC3339_UTC.fullmatch(entry["recorded_at"]):
        return "entry recorded_at must be an RFC 3339 UTC time ending in Z"
    return None


def _references_problem(entry: Mapping[str, Any]) -> str | None:
    for name in ("grant_id", "legal_basis"):
        value = entry[name]
        if value is not None and (type(value) is not str or not value):
            return f"entry {name} must be null or a non-empty string"
    return None


def _basis_problem(entry: Mapping[str, Any]) -> str | None:
    """Each basis names what it relies on: a grant for consent, a provision for a legal
    basis, and nothing for the resident's own sign-in."""
    basis, grant_id, legal_basis = entry["basis"], entry["grant_id"], entry["legal_basis"]
    if basis == "consent":
        return "entry with basis 'consent' has no grant_id" if grant_id is None else None
    if basis == "legal":
        return "entry with basis 'legal' has no legal_basis" if legal_basis is None else None
    if basis == "sign-in":
        if grant_id is not None or legal_basis is not None:
            return "entry with basis 'sign-in' must have neither grant_id nor legal_basis"
        return None
    return "entry basis must be 'consent', 'legal' or 'sign-in'"


# In this order: each check may rely on the ones before it (recorded_at is a string).
_VALUE_CHECKS = (
    _index_problem,
    _required_strings_problem,
    _fields_problem,
    _recorded_at_problem,
    _references_problem,
    _basis_problem,
)


def _non_empty_strings(values: Sequence[Any]) -> bool:
    # str.join rejects any non-string in C, far cheaper per entry than a type() loop.
    try:
        "".join(values)
    except TypeError:
        return False
    return all(values)
