"""kit.sealing: key derivation, field sealing with rotation, blind indexes, and the formats
already stored by the services (golden values made by the code before it moved here)."""

import base64
import hashlib
import hmac
import re

import pytest

from kit.sealing import (
    BlindIndex,
    FieldCipher,
    FieldDecryptionError,
    derive_key,
    keyed_digest,
    open_bytes,
    seal_bytes,
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


# Raw sealing (the ledger's signing key) ------------------------------------------------


def test_sealed_bytes_open_only_with_their_key_and_associated_data() -> None:
    sealed = seal_bytes(KEY_A, b"secret key bytes", b"abcd1234")
    assert len(sealed) == 12 + len(b"secret key bytes") + 16
    assert open_bytes(KEY_A, sealed, b"abcd1234") == b"secret key bytes"
    assert seal_bytes(KEY_A, b"secret key bytes", b"abcd1234") != sealed  # fresh nonce
    for key, data, aad in (
        (KEY_B, sealed, b"abcd1234"),
        (KEY_A, sealed, b"other-id"),
        (KEY_A, sealed[:-1] + bytes([sealed[-1] ^ 1]), b"abcd1234"),
        (KEY_A, sealed[:20], b"abcd1234"),
        (KEY_A, b"", b"abcd1234"),
    ):
        with pytest.raises(FieldDecryptionError):
            open_bytes(key, data, aad)


def test_keyed_digest_is_hmac_sha256_hex() -> None:
    expected = hmac.new(KEY_A, b"tok", hashlib.sha256).hexdigest()
    assert keyed_digest(KEY_A, "tok") == expected


# The older format without a key id (the forms hub's answers before the move) ---------------

FORMS_MASTER = bytes(range(32))
# Sealer(FORMS_MASTER, "answers/v1").seal({"name": "陳大文", "n": 1}, "rec-1") before the move.
FORMS_ANSWERS_V1 = "v1:Me5sSimUnzn/4SuNxXqhuUnqnLem4fsQpUyTzPO7F7opxKSO2MN2fHKTtqxO8s+sQCL0A9JG"


def forms_cipher() -> FieldCipher:
    key = derive_key(FORMS_MASTER, "forms-hub/answers/v1")
    return FieldCipher({"h1": key}, "h1", unnamed_key_id="h1")


def test_unnamed_tokens_open_under_the_declared_key() -> None:
    cipher = forms_cipher()
    assert cipher.decrypt(FORMS_ANSWERS_V1, context="rec-1") == '{"n":1,"name":"陳大文"}'
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(FORMS_ANSWERS_V1, context="rec-2")


def test_unnamed_tokens_are_refused_by_a_ring_that_never_wrote_them() -> None:
    cipher = FieldCipher({"h1": derive_key(FORMS_MASTER, "forms-hub/answers/v1")}, "h1")
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(FORMS_ANSWERS_V1, context="rec-1")


def test_unnamed_tokens_are_rewritten_by_rotation() -> None:
    cipher = forms_cipher()
    assert cipher.needs_reencrypt(FORMS_ANSWERS_V1) is True
    fresh = cipher.reencrypt(FORMS_ANSWERS_V1, "rec-1")
    assert fresh.startswith("v1.h1.") and cipher.needs_reencrypt(fresh) is False
    assert cipher.decrypt(fresh, context="rec-1") == cipher.decrypt(FORMS_ANSWERS_V1, context="rec-1")


def test_malformed_unnamed_tokens_are_refused() -> None:
    cipher = forms_cipher()
    body = FORMS_ANSWERS_V1[3:]
    for bad in ("v1:", "v1:" + body[:-4], "v1:" + body + "!", "v1:" + body.rstrip("=") + "=" * 3, "v1:AAAA"):
        with pytest.raises(FieldDecryptionError):
            cipher.decrypt(bad, context="rec-1")
    with pytest.raises(ValueError):
        FieldCipher({"h1": KEY_A}, "h1", unnamed_key_id="h0")


# Values the services stored before the move still open, keys still match ------------------


def test_identity_token_stored_before_the_move_opens() -> None:
    key = derive_key(FORMS_MASTER, "field-encryption/f1")
    token = "v1.f1.uNPJNH1H0IGsK052.Li-Gb3ZssK6eASAJx1b2LWVHph-YoJAf"
    assert FieldCipher({"f1": key}, "f1").decrypt(token, context="resident.hkid") == "A1234563"


def test_ledger_key_sealed_before_the_move_opens() -> None:
    sealed = bytes.fromhex(
        "c348085318b0f9f43e9fba1434132a2e0e78a76d30869474cb82d0265a9e9b2ddfde6bd5"
        "c25511a63266bccb8a4277282f060375185c5112cc86c484"
    )
    key = derive_key(FORMS_MASTER, "egate consent ledger checkpoint signing key v1")
    assert open_bytes(key, sealed, b"abcd1234") == bytes(range(100, 132))


def test_blind_index_and_keyed_digests_unchanged() -> None:
    hkid = BlindIndex(derive_key(FORMS_MASTER, "blind-index/hkid/v1")).digest("A1234563", context="hkid")
    assert hkid == "3e8409ee9433bae0c8f99815f3e306356d00711eaeb4bd918c5f6543fb2af9bd"
    session = keyed_digest(derive_key(FORMS_MASTER, "forms-hub/session"), "tok")
    assert session == "429ff054f5ff1c17da7ef76412db3371fda30152b471c1172575d46927869711"
