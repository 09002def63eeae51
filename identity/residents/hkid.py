"""Hong Kong identity card numbers: parsing, check digit, display.

An HKID number is one or two capital letters, six digits and a check digit
(``0``-``9`` or ``A``), printed on the card as ``A123456(3)``.

Check digit algorithm (Immigration Department scheme, as documented in the
public descriptions of the HKID format, e.g. "Hong Kong Identity Card" on
Wikipedia, section "Check digit"):

1. Map each of the 8 prefix positions to a value: digits are their value,
   letters ``A``..``Z`` are 10..35, and a single-letter number is padded on
   the left with a space that counts as 36.
2. Multiply the 8 values by the weights 9, 8, 7, 6, 5, 4, 3, 2 and add them.
3. ``check = 11 - (sum mod 11)``; a result of 10 is written ``A`` and 11 is
   written ``0``.

Equivalently the weighted sum including the check digit (weight 1, ``A`` =
10) is divisible by 11.

The number is personal data: nothing here puts it in an exception message,
so a logged traceback cannot leak it.
"""

import re
import unicodedata
from typing import Literal

__all__ = [
    "InvalidHKID",
    "check_digit",
    "format_hkid",
    "mask_hkid",
    "normalise_hkid",
]

HKIDReason = Literal["format", "check_digit"]

# ASCII classes on purpose: `\d` would also accept e.g. Arabic-Indic digits.
_HKID_RE = re.compile(r"([A-Z]{1,2})([0-9]{6})(?:\(([0-9A])\)|([0-9A]))")
_CANONICAL_RE = re.compile(r"([A-Z]{1,2})([0-9]{6})([0-9A])")

_SPACE_VALUE = 36
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


class InvalidHKID(ValueError):
    """The input is not a valid HKID number.

    ``reason`` is a stable code (``"format"`` or ``"check_digit"``) that pages
    translate into a message. The rejected input is deliberately not kept.
    """

    def __init__(self, reason: HKIDReason) -> None:
        super().__init__(reason)
        self.reason: HKIDReason = reason


def _char_value(char: str) -> int:
    if char == " ":
        return _SPACE_VALUE
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10


def check_digit(prefix: str) -> str:
    """Return the check digit for ``prefix`` (letters + six digits, no check).

    Implements the Immigration Department algorithm described in the module
    docstring. ``prefix`` must already be upper-case ASCII, e.g. ``"A123456"``.
    """
    if not re.fullmatch(r"[A-Z]{1,2}[0-9]{6}", prefix):
        raise InvalidHKID("format")
    padded = prefix.rjust(8)  # a single letter gets the leading "space" (36)
    total = sum(w * _char_value(c) for w, c in zip(_WEIGHTS, padded, strict=True))
    value = 11 - total % 11
    if value == 11:
        return "0"
    if value == 10:
        return "A"
    return str(value)


def normalise_hkid(raw: str) -> str:
    """Parse a resident-typed HKID number into canonical form ``"A1234563"``.

    Accepted: one or two letters, six digits, check digit with or without
    brackets, any spacing and letter case. Full-width characters typed on a
    Chinese input method (``Ａ１２３４５６（３）``) are folded by NFKC first.

    Raises:
        InvalidHKID: ``reason == "format"`` if the shape is wrong,
            ``reason == "check_digit"`` if the check digit does not match.
    """
    if not isinstance(raw, str):
        raise InvalidHKID("format")
    folded = unicodedata.normalize("NFKC", raw).upper()
    compact = "".join(folded.split())  # drops every kind of whitespace
    match = _HKID_RE.fullmatch(compact)
    if match is None:
        raise InvalidHKID("format")
    letters, digits, bracketed, bare = match.groups()
    given = bracketed or bare
    if check_digit(letters + digits) != given:
        raise InvalidHKID("check_digit")
    return f"{letters}{digits}{given}"


def _split_canonical(canonical: str) -> tuple[str, str, str]:
    # Re-validate so a corrupted stored value is never displayed as if valid.
    match = _CANONICAL_RE.fullmatch(normalise_hkid(canonical))
    assert match is not None  # normalise_hkid only returns canonical forms
    letters, digits, check = match.groups()
    return letters, digits, check


def format_hkid(canonical: str) -> str:
    """Format as printed on the card: ``"A1234563"`` -> ``"A123456(3)"``."""
    letters, digits, check = _split_canonical(canonical)
    return f"{letters}{digits}({check})"


def mask_hkid(canonical: str) -> str:
    """Mask for display to the resident: ``"A1234563"`` -> ``"A123***(*)"``.

    Keeps the letters and the first three digits: enough for a resident to
    recognise their own number, not enough to reconstruct it (the last three
    digits plus the check digit leave 1,000 candidates).
    """
    letters, digits, _check = _split_canonical(canonical)
    return f"{letters}{digits[:3]}***(*)"
