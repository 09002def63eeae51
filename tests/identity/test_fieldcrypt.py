import base64
import hashlib
import hmac
import re

import pytest

from identity.security.fieldcrypt import (
    BlindIndex,
    FieldCipher,
    FieldDecryptionError,
    derive_key,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
HKID = "resident.hkid"


def make_cipher(active: str = "k1") -> FieldCipher:
    return FieldCipher({"k1": KEY_A, "k2": KEY_B}, active)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip() -> None:
    cipher = make_cipher()
    for value in ("A1234563", "", "陳大文", "x" * 10_000):
        assert cipher.decrypt(cipher.encrypt(value, context=HKID), context=HKID) == value


def test_token_format() -> None:
    token = make_cipher().encrypt("A1234563", context=HKID)
    version, key_id, nonce, sealed = token.split(".")
    assert (version, key_id) == ("v1", "k1")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", nonce + sealed)
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 12
    assert len(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))) == 8 + 16
    assert "A1234563" not in token


def test_random_nonce_makes_tokens_differ() -> None:
    cipher = make_cipher()
    tokens = {cipher.encrypt("A1234563", context=HKID) for _ in range(50)}
    assert len(tokens) == 50


def test_wrong_context_fails() -> None:
    cipher = make_cipher()
    token = cipher.encrypt("A1234563", context=HKID)
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(token, context="resident.phone")


def _flip_last_byte(text: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[-1] ^= 0x01
    return b64url(bytes(raw))


def test_tampering_fails() -> None:
    cipher = make_cipher()
    token = cipher.encrypt("A1234563", context=HKID)
    version, key_id, nonce, sealed = token.split(".")
    tampered = [
        ".".join((version, key_id, nonce, _flip_last_byte(sealed))),
        ".".join((version, key_id, _flip_last_byte(nonce), sealed)),
        ".".join((version, "k2", nonce, sealed)),  # claims the other key
        ".".join((version, key_id, nonce, sealed[:-4])),  # truncated
        ".".join((version, key_id, nonce, b64url(b"\x00" * 10))),  # shorter than tag
        ".".join(("v2", key_id, nonce, sealed)),
        ".".join((version, "nope", nonce, sealed)),  # unknown key id
        ".".join((version, key_id, nonce, sealed + "!")),  # not base64url
        ".".join((version, key_id, nonce)),
        token + ".extra",
        "",
        "garbage",
    ]
    for bad in tampered:
        with pytest.raises(FieldDecryptionError) as exc:
            cipher.decrypt(bad, context=HKID)
        assert "A1234563" not in str(exc.value)
        assert sealed not in str(exc.value)


def test_non_canonical_base64_is_refused() -> None:
    cipher = make_cipher()
    # 9 + 16 = 25 sealed bytes -> 34 chars, whose last char has 4 unused bits.
    v, k, n, s = cipher.encrypt("A12345633", context=HKID).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = s[:-1] + alphabet[alphabet.index(s[-1]) | 0b1111]
    assert respelled != s
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(s + "==")
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(".".join((v, k, n, respelled)), context=HKID)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        FieldCipher({"k1": KEY_A}, "k2")
    with pytest.raises(ValueError):
        FieldCipher({"k1": b"short"}, "k1")
    with pytest.raises(ValueError):
        FieldCipher({"k.1": KEY_A}, "k.1")
    with pytest.raises(ValueError):
        make_cipher().encrypt("x", context="")


def test_rotation() -> None:
    old = FieldCipher({"k1": KEY_A}, "k1")
    token = old.encrypt("A1234563", context=HKID)
    assert old.needs_reencrypt(token) is False

    # New key added and made active; the old one stays for decryption.
    rotated = FieldCipher({"k1": KEY_A, "k2": KEY_B}, "k2")
    assert rotated.active_key_id == "k2"
    assert rotated.needs_reencrypt(token) is True
    assert rotated.decrypt(token, context=HKID) == "A1234563"

    fresh = rotated.reencrypt(token, HKID)
    assert fresh.split(".")[1] == "k2"
    assert rotated.needs_reencrypt(fresh) is False
    assert rotated.decrypt(fresh, context=HKID) == "A1234563"

    # Once everything is re-encrypted the old key can be retired.
    retired = FieldCipher({"k2": KEY_B}, "k2")
    assert retired.decrypt(fresh, context=HKID) == "A1234563"
    with pytest.raises(FieldDecryptionError):
        retired.decrypt(token, context=HKID)


def test_reencrypt_checks_context() -> None:
    cipher = make_cipher("k2")
    token = make_cipher("k1").encrypt("A1234563", context=HKID)
    with pytest.raises(FieldDecryptionError):
        cipher.reencrypt(token, "resident.phone")


def test_needs_reencrypt_on_malformed_token() -> None:
    assert make_cipher().needs_reencrypt("garbage") is True


# Blind index -------------------------------------------------------------------


def test_blind_index_matches_hmac_definition() -> None:
    key = b"\x11" * 32
    digest = BlindIndex(key).digest("A1234563", context="resident.hkid")
    expected = hmac.new(key, b"resident.hkid\x00A1234563", hashlib.sha256).hexdigest()
    assert digest == expected
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_blind_index_is_deterministic_and_key_dependent() -> None:
    one = BlindIndex(b"\x11" * 32)
    assert one.digest("A1234563", context=HKID) == one.digest("A1234563", context=HKID)
    assert one.digest("A1234563", context=HKID) != one.digest("A1234564", context=HKID)
    other = BlindIndex(b"\x22" * 32)
    assert one.digest("A1234563", context=HKID) != other.digest("A1234563", context=HKID)


def test_blind_index_context_separation() -> None:
    index = BlindIndex(b"\x11" * 32)
    assert index.digest("c", context="ab") != index.digest("bc", context="a")
    assert index.digest("x", context="resident.hkid") != index.digest("x", context="resident.email")
    with pytest.raises(ValueError):
        index.digest("x", context="a\x00b")
    with pytest.raises(ValueError):
        index.digest("x", context="")
    with pytest.raises(ValueError):
        BlindIndex(b"short")


# Key derivation ------------------------------------------------------------------


def reference_hkdf_sha256(ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 §2.2-2.3 written out with the standard library."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()  # salt absent
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_derive_key_matches_rfc5869() -> None:
    master = bytes(range(100, 164))
    for purpose in ("field-encryption/v1", "blind-index/hkid/v1"):
        assert derive_key(master, purpose) == reference_hkdf_sha256(master, purpose.encode(), 32)
    assert derive_key(master, "x", length=80) == reference_hkdf_sha256(master, b"x", 80)


def test_derive_key_separates_purposes() -> None:
    master = b"m" * 32
    enc = derive_key(master, "field-encryption/v1")
    idx = derive_key(master, "blind-index/hkid/v1")
    assert len(enc) == len(idx) == 32
    assert enc != idx
    assert derive_key(master, "field-encryption/v1") == enc
    assert derive_key(b"n" * 32, "field-encryption/v1") != enc


def test_derive_key_validation() -> None:
    with pytest.raises(ValueError):
        derive_key(b"too short", "field-encryption/v1")
    with pytest.raises(ValueError):
        derive_key(b"m" * 32, "")


def test_derived_keys_work_end_to_end() -> None:
    master = b"\x42" * 32
    cipher = FieldCipher({"2024": derive_key(master, "field-encryption/v1")}, "2024")
    index = BlindIndex(derive_key(master, "blind-index/hkid/v1"))
    token = cipher.encrypt("A1234563", context=HKID)
    assert cipher.decrypt(token, context=HKID) == "A1234563"
    assert len(index.digest("A1234563", context=HKID)) == 64
