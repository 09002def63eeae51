"""Reference and licence numbers: ``<PREFIX>-<YEAR>-<6 characters><check character>``,
e.g. ``FEHD-2025-K7M3QX9``.

The six characters encode a per-department, per-year sequence number in base 32 over an
alphabet without I, O, 0 and 1 (they are read aloud and typed from paper: GOV.UK Forms
avoids the same four). The sequence is scrambled by a fixed bijection so consecutive
numbers do not look consecutive.

The check character is a polynomial checksum over GF(32) (the field of the 32 alphabet
symbols, modulus x^5 + x^2 + 1): c = sum of v_i * a^(n - i) with a primitive ``a``. Because the
field has no zero divisors, every single-character substitution (e * a^k != 0) and every
transposition of two adjacent characters ((x - y) * a^k * (1 + a) != 0) changes it. The four
characters outside the alphabet (0, 1, I, O) share a value with an alphabet character; they
can only occur in the prefix and the year, where the shape check already tells letters and
digits apart.
"""

from __future__ import annotations

import re

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forms_hub.submissions.models import NumberCounter

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BODY_LENGTH = 6
_SPACE = len(ALPHABET) ** BODY_LENGTH  # 2**30
_MULTIPLIER = 0x2E5F1B7  # odd: a bijection modulo 2**30
_OFFSET = 0x15A3C5D
_VALUES = {c: i for i, c in enumerate(ALPHABET)} | {"0": 28, "1": 29, "I": 0, "O": 1}  # as W, X, 2, 3
_FIELD_MODULUS = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)
NUMBER_PATTERN = re.compile(
    rf"^([A-Z][A-Z0-9]{{1,16}})-(\d{{4}})-([{ALPHABET}]{{{BODY_LENGTH}}})([{ALPHABET}])$"
)


def _times_a(value: int) -> int:
    value <<= 1
    return value ^ _FIELD_MODULUS if value & 0b100000 else value


def check_character(text: str) -> str:
    accumulator = 0
    for char in text:
        if char != "-":
            accumulator = _times_a(accumulator) ^ _VALUES[char]
    return ALPHABET[_times_a(accumulator)]


def encode(sequence: int) -> str:
    if not 0 < sequence < _SPACE:
        raise ValueError("sequence number out of range")
    value = (sequence * _MULTIPLIER + _OFFSET) % _SPACE
    chars = []
    for _ in range(BODY_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def format_number(prefix: str, year: int, sequence: int) -> str:
    head = f"{prefix}-{year:04d}-{encode(sequence)}"
    return head + check_character(head)


def is_well_formed(number: str) -> bool:
    """Shape and check character: catches a mistyped number before any database lookup."""
    match = NUMBER_PATTERN.match(number)
    return bool(match) and check_character(number[:-1]) == number[-1]


def next_sequence(db: Session, scope: str) -> int:
    """The next number of ``scope`` in one statement (an upsert that increments and returns
    the counter) under the row's lock (PostgreSQL row lock; on SQLite the write lock is
    already held), so two submissions never share a number."""
    dialect = db.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(NumberCounter)
    statement = (
        insert.values(scope=scope, last_value=1)
        .on_conflict_do_update(index_elements=["scope"], set_={"last_value": NumberCounter.last_value + 1})
        .returning(NumberCounter.last_value)
    )
    return db.execute(statement).scalar_one()


def new_number(db: Session, kind: str, prefix: str, year: int) -> str:
    return format_number(prefix, year, next_sequence(db, f"{kind}:{prefix}:{year}"))
