import random
import string

import pytest

from identity.residents.hkid import (
    InvalidHKID,
    check_digit,
    format_hkid,
    mask_hkid,
    normalise_hkid,
)

# Independent reference: the weighted sum *including* the check digit
# (weight 1) must be divisible by 11. Values come from an explicit table
# rather than arithmetic on code points.
_VALUES = {" ": 36, **{d: int(d) for d in string.digits}}
_VALUES.update({letter: 10 + i for i, letter in enumerate(string.ascii_uppercase)})
_CHECK_VALUES = {**{d: int(d) for d in string.digits}, "A": 10}


def reference_check_digit(prefix: str) -> str:
    chars = list(prefix if len(prefix) == 8 else " " + prefix)
    partial = sum(_VALUES[c] * w for c, w in zip(chars, range(9, 1, -1), strict=True))
    (found,) = [c for c, v in _CHECK_VALUES.items() if (partial + v) % 11 == 0]
    return found


# Worked by hand from the published algorithm.
KNOWN_VALID = [
    ("A123456(3)", "A1234563"),  # the example printed in most descriptions
    ("AB987654(3)", "AB9876543"),  # two letters: 90+88+63+48+35+24+15+8 = 371
    ("A000010(0)", "A0000100"),  # 11 - 0 -> "0"
    ("A000002(A)", "A000002A"),  # 11 - 1 = 10 -> "A"
]


@pytest.mark.parametrize(("printed", "canonical"), KNOWN_VALID)
def test_known_valid_numbers(printed: str, canonical: str) -> None:
    assert normalise_hkid(printed) == canonical
    assert reference_check_digit(canonical[:-1]) == canonical[-1]


def test_check_digit_agrees_with_reference_on_random_prefixes() -> None:
    rng = random.Random(20240601)
    for _ in range(2000):
        letters = "".join(rng.choices(string.ascii_uppercase, k=rng.choice((1, 2))))
        digits = "".join(rng.choices(string.digits, k=6))
        prefix = letters + digits
        expected = reference_check_digit(prefix)
        assert check_digit(prefix) == expected
        assert normalise_hkid(f"{prefix}({expected})") == prefix + expected


@pytest.mark.parametrize(
    "raw",
    [
        "A1234563",
        "A123456(3)",
        "a123456(3)",
        " A 123 456 ( 3 ) ",
        "A123456 3",
        "a1234563\n",
        "Ａ１２３４５６（３）",  # full-width, as typed on a Chinese IME
    ],
)
def test_accepted_spellings(raw: str) -> None:
    assert normalise_hkid(raw) == "A1234563"


def test_two_letter_numbers_with_letter_check_digit() -> None:
    prefix = "XY123456"
    digit = reference_check_digit(prefix)
    assert normalise_hkid(f"xy 123456 ({digit.lower()})") == prefix + digit


def test_every_wrong_check_digit_is_refused() -> None:
    for wrong in "012456789A":
        with pytest.raises(InvalidHKID) as exc:
            normalise_hkid(f"A123456({wrong})")
        assert exc.value.reason == "check_digit"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "A123456",  # no check digit
        "A12345(6)",  # five digits
        "A1234567(8)",  # seven digits
        "ABC123456(7)",  # three letters
        "123456(7)",  # no letter
        "A123456(B)",  # check digit must be 0-9 or A
        "A123456(3",  # unbalanced bracket
        "A123456 3)",
        "A123456((3))",
        "A123456-3",
        "A١٢٣٤٥٦(3)",  # Arabic-Indic digits are not HKID digits
        "é123456(3)",
    ],
)
def test_format_errors(raw: str) -> None:
    with pytest.raises(InvalidHKID) as exc:
        normalise_hkid(raw)
    assert exc.value.reason == "format"


def test_non_string_is_a_format_error() -> None:
    with pytest.raises(InvalidHKID) as exc:
        normalise_hkid(None)  # type: ignore[arg-type]
    assert exc.value.reason == "format"


def test_error_does_not_carry_the_number() -> None:
    with pytest.raises(InvalidHKID) as exc:
        normalise_hkid("A123456(4)")
    assert "123456" not in str(exc.value)
    assert "123456" not in repr(exc.value)
    assert isinstance(exc.value, ValueError)


def test_format_hkid() -> None:
    assert format_hkid("A1234563") == "A123456(3)"
    assert format_hkid("AB9876543") == "AB987654(3)"
    assert format_hkid("A000002A") == "A000002(A)"


def test_mask_hkid() -> None:
    assert mask_hkid("A1234563") == "A123***(*)"
    assert mask_hkid("AB9876543") == "AB987***(*)"


def test_display_helpers_refuse_invalid_values() -> None:
    with pytest.raises(InvalidHKID):
        format_hkid("A1234564")
    with pytest.raises(InvalidHKID):
        mask_hkid("nonsense")
