from pathlib import Path

import argon2
import pytest

import identity.security.passwords as passwords_module
from identity.security.passwords import (
    PasswordHasher,
    check_password_policy,
    is_common_password,
)

CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(**CHEAP)


def test_hash_is_argon2id_with_given_parameters(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert params.salt_len == 16
    assert params.hash_len == 32


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    assert hasher.hash("same password") != hasher.hash("same password")


def test_verify(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert hasher.verify(stored, "correct horse battery staple") is True
    assert hasher.verify(stored, "correct horse battery stapler") is False
    assert hasher.verify(stored, "") is False


def test_verify_normalises_unicode(hasher: PasswordHasher) -> None:
    stored = hasher.hash("ｈｏｎｇｋｏｎｇ harbour")  # full-width letters
    assert hasher.verify(stored, "hongkong harbour")
    decomposed = "cafe\u0301 au lait"
    assert hasher.verify(hasher.hash("café au lait"), decomposed)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$v=19$m=1024,t=1,p=1$broken",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
        "$2b$12$abcdefghijklmnopqrstuuTqL4XU8oGV0Ws3Qb3M5JCSHJfVqYm.",  # bcrypt
        "$argon2id$v=19$m=1024,t=1,p=1$é",
        None,
    ],
)
def test_verify_never_raises_on_invalid_hash(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, "whatever") is False


def test_needs_rehash(hasher: PasswordHasher) -> None:
    stored = hasher.hash("pw-for-rehash-test")
    assert hasher.needs_rehash(stored) is False
    for changed in (
        {**CHEAP, "time_cost": 2},
        {**CHEAP, "memory_cost": 2048},
        {**CHEAP, "parallelism": 2},
    ):
        assert PasswordHasher(**changed).needs_rehash(stored) is True
    assert hasher.needs_rehash("garbage") is True


def test_non_argon2id_hash_needs_rehash(hasher: PasswordHasher) -> None:
    legacy = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.I).hash(
        "legacy password"
    )
    assert hasher.verify(legacy, "legacy password")
    assert hasher.needs_rehash(legacy)


def test_verify_and_maybe_rehash_same_parameters(hasher: PasswordHasher) -> None:
    stored = hasher.hash("pw-unchanged-params")
    assert hasher.verify_and_maybe_rehash(stored, "pw-unchanged-params") == (
        True,
        None,
    )
    assert hasher.verify_and_maybe_rehash(stored, "wrong") == (False, None)


def test_verify_and_maybe_rehash_upgrades_on_parameter_change(
    hasher: PasswordHasher,
) -> None:
    stored = hasher.hash("pw-to-upgrade")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)

    ok, new_hash = stronger.verify_and_maybe_rehash(stored, "pw-to-upgrade")

    assert ok is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert stronger.verify(new_hash, "pw-to-upgrade")
    assert not stronger.needs_rehash(new_hash)
    # A wrong password must never produce a hash to store.
    assert stronger.verify_and_maybe_rehash(stored, "wrong") == (False, None)


def test_dummy_verify(hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hasher.dummy_verify("anything") is False
    assert hasher.dummy_verify("") is False
    # The fixed hash has the hasher's own parameters, so it costs the same.
    dummy_hash = hasher._dummy_hash
    assert not hasher.needs_rehash(dummy_hash)
    assert hasher._dummy_hash is dummy_hash  # computed once

    calls = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        calls.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    hasher.dummy_verify("anything")
    assert calls == [dummy_hash]


def test_invalid_hash_still_spends_a_verification(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    spent = []
    monkeypatch.setattr(hasher, "dummy_verify", lambda pw: spent.append(pw) or False)
    assert hasher.verify("garbage", "pw") is False
    assert spent == ["pw"]


def test_owasp_defaults() -> None:
    cheap_hash = PasswordHasher(**CHEAP).hash("x")
    # Re-label the parameters instead of paying for a 19 MiB hash.
    owasp_shaped = cheap_hash.replace("m=1024,t=1,p=1", "m=19456,t=2,p=1")
    assert PasswordHasher().needs_rehash(owasp_shaped) is False
    assert PasswordHasher().needs_rehash(cheap_hash) is True


# Policy ----------------------------------------------------------------------


def test_acceptable_password() -> None:
    assert check_password_policy("harbour lights over kowloon bay") == []
    assert check_password_policy("Tr0ub4dor&3x") == []


def test_length_limits_count_code_points_after_nfkc() -> None:
    assert check_password_policy("short") == ["too_short"]
    assert check_password_policy("xq7-vb2") == ["too_short"]  # 7
    assert check_password_policy("xq7-vb2z") == []  # 8
    assert check_password_policy("密碼是海港城夜景") == []  # 8 code points, 24 bytes
    # Four "é" as e + combining accent: 8 code points typed, 4 after NFKC.
    assert check_password_policy("e\u0301" * 4) == ["too_short"]
    # The "ﬃ" ligature expands to "ffi": 3 typed, 9 after NFKC.
    assert "too_short" not in check_password_policy("ﬃ" * 3)
    assert check_password_policy("z" * 7 + "q" * 249) == []  # 256
    assert check_password_policy("z" * 7 + "q" * 250) == ["too_long"]


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password",
        "PASSWORD1",
        "p@ssw0rd",
        "12345678",
        "123456789",
        "qwertyuiop",
        "1qaz2wsx",
        "iloveyou",
        "letmein123",
        "Sunshine2024",
        "football1987",
        "aaaaaaaa",
        "woaini1314",
        "HongKong1997",
        "ｐａｓｓｗｏｒｄ",  # full-width, folds to "password"
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    assert "common" in check_password_policy(password)
    assert is_common_password(password)


def test_contextual_words() -> None:
    context = ["jane.doe", "Chan Tai Man"]
    assert check_password_policy("JaneRocks-2024!", context_words=context) == ["contextual"]
    assert check_password_policy("my jane.doe secret", context_words=context) == ["contextual"]
    assert check_password_policy("xx-CHAN-harbour", context_words=context) == ["contextual"]
    # "doe", "tai", "man" are shorter than 4 and would refuse too much.
    assert check_password_policy("doe tai man harbour", context_words=context) == []


def test_no_composition_rules() -> None:
    # All lower-case letters, no digits or symbols: fine if long and uncommon.
    assert check_password_policy("purple elephants whisper") == []


def test_reasons_combine() -> None:
    assert check_password_policy("jane", context_words=["jane"]) == [
        "too_short",
        "contextual",
    ]


def test_common_password_file() -> None:
    path = Path(passwords_module.__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 10_000
    assert lines == sorted(set(lines))
    assert all(len(line) >= 8 and line == line.lower() for line in lines)
    for classic in ("password", "12345678", "qwertyuiop", "iloveyou", "trustno1"):
        assert classic in lines


def test_common_list_is_loaded_once() -> None:
    first = passwords_module._common_passwords()
    assert passwords_module._common_passwords() is first
    assert isinstance(first, frozenset)
