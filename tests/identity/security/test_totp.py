import base64
import hashlib
import math
import re
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from identity.security.totp import (
    RECOVERY_CODE_ALPHABET,
    generate_recovery_codes,
    hash_recovery_code,
    match_recovery_code,
    new_totp_secret,
    provisioning_uri,
    qr_svg,
    verify_totp,
)

# RFC 6238 Appendix B: SHA-1 seed "12345678901234567890" (ASCII); the 6-digit
# codes are the last six digits of the published 8-digit values.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "287082"),
    (1111111109, "081804"),
    (1111111111, "050471"),
    (1234567890, "005924"),
    (2000000000, "279037"),
]

NOW = 1_700_000_000.0
STEP = int(NOW // 30)


@pytest.fixture
def secret() -> str:
    return new_totp_secret()


def test_new_secret_is_160_bit_base32() -> None:
    secret = new_totp_secret()
    assert len(base64.b32decode(secret)) == 20
    assert new_totp_secret() != secret


@pytest.mark.parametrize(("at", "code"), RFC_VECTORS)
def test_rfc6238_vectors(at: int, code: str) -> None:
    assert verify_totp(RFC_SECRET, code, last_used_step=None, now=at) == at // 30


def test_provisioning_uri() -> None:
    uri = provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "jane@example.com")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert unquote(parsed.path) == "/e-Gateway:jane@example.com"
    query = parse_qs(parsed.query)
    assert query["secret"] == ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]
    assert query["issuer"] == ["e-Gateway"]
    other = provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "jane", issuer="Test IdP")
    assert parse_qs(urlparse(other).query)["issuer"] == ["Test IdP"]


def test_qr_svg_is_inline_and_accessible() -> None:
    svg = qr_svg(provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "jane@example.com"))
    assert svg.startswith("<svg ")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    assert 'role="img"' in svg
    assert "<title>QR code to scan with your authenticator app</title>" in svg
    assert 'aria-label="QR code to scan with your authenticator app"' in svg


def test_qr_svg_escapes_title() -> None:
    svg = qr_svg("otpauth://totp/x?secret=AAAA", title='Scan "me" <now> & go')
    assert "<now>" not in svg
    assert "&lt;now&gt;" in svg
    assert 'aria-label="Scan &quot;me&quot; &lt;now&gt; &amp; go"' in svg


def test_current_code(secret: str) -> None:
    code = pyotp.TOTP(secret).at(NOW)
    assert verify_totp(secret, code, last_used_step=None, now=NOW) == STEP


def test_one_step_of_drift_either_side(secret: str) -> None:
    totp = pyotp.TOTP(secret)
    assert verify_totp(secret, totp.at(NOW - 30), last_used_step=None, now=NOW) == (STEP - 1)
    assert verify_totp(secret, totp.at(NOW + 30), last_used_step=None, now=NOW) == (STEP + 1)
    for far in (NOW - 60, NOW + 60, NOW - 3600):
        code = totp.at(far)
        if code not in {totp.at(NOW - 30), totp.at(NOW), totp.at(NOW + 30)}:
            assert verify_totp(secret, code, last_used_step=None, now=NOW) is None


def test_replay_is_refused(secret: str) -> None:
    code = pyotp.TOTP(secret).at(NOW)
    step = verify_totp(secret, code, last_used_step=None, now=NOW)
    assert step == STEP
    # Same code again, even a few seconds later in the same window.
    assert verify_totp(secret, code, last_used_step=step, now=NOW + 5) is None
    assert verify_totp(secret, code, last_used_step=step + 1, now=NOW) is None


def test_older_code_refused_after_newer_step_used(secret: str) -> None:
    totp = pyotp.TOTP(secret)
    previous = totp.at(NOW - 30)
    assert verify_totp(secret, previous, last_used_step=STEP, now=NOW) is None
    # ...while the next window's code is still accepted.
    assert verify_totp(secret, totp.at(NOW + 30), last_used_step=STEP, now=NOW) == (STEP + 1)
    # A last-used step before the drift window does not block anything.
    current = totp.at(NOW)
    assert verify_totp(secret, current, last_used_step=STEP - 5, now=NOW) == STEP


def test_code_spelling(secret: str) -> None:
    code = pyotp.TOTP(secret).at(NOW)
    spaced = f" {code[:3]} {code[3:]} "
    assert verify_totp(secret, spaced, last_used_step=None, now=NOW) == STEP
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert verify_totp(secret, full_width, last_used_step=None, now=NOW) == STEP


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12-456", None])
def test_malformed_codes(secret: str, bad: str) -> None:
    assert verify_totp(secret, bad, last_used_step=None, now=NOW) is None


def test_wrong_code(secret: str) -> None:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(NOW + d) for d in (-30, 0, 30)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    assert verify_totp(secret, wrong, last_used_step=None, now=NOW) is None


# Recovery codes ------------------------------------------------------------


def test_recovery_code_shape_and_entropy() -> None:
    codes = generate_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{2}", code)
        assert set(code.replace("-", "")) <= set(RECOVERY_CODE_ALPHABET)
    assert len(generate_recovery_codes(3)) == 3
    assert not set("ilou") & set(RECOVERY_CODE_ALPHABET)
    assert len(set(RECOVERY_CODE_ALPHABET)) == 32
    assert 10 * math.log2(len(RECOVERY_CODE_ALPHABET)) >= 50


def test_hash_recovery_code() -> None:
    expected = hashlib.sha256(b"7k2m9xqd4t").hexdigest()
    for spelling in ("7k2m-9xqd-4t", "7K2M-9XQD-4T", "7k2m9xqd4t", " 7k2m 9xqd 4t "):
        assert hash_recovery_code(spelling) == expected
    # Crockford look-alikes typed by mistake map back to 0 and 1.
    assert hash_recovery_code("o1ab-cdef-gh") == hash_recovery_code("0lab-cdef-gh")
    assert hash_recovery_code("i0ab-cdef-gh") == hash_recovery_code("10ab-cdef-gh")
    for bad in ("", "7k2m-9xqd", "7k2m-9xqd-4tt", "7k2m-9xqd-4u", "7k2m_9xqd_4t"):
        with pytest.raises(ValueError):
            hash_recovery_code(bad)


def test_match_recovery_code() -> None:
    codes = generate_recovery_codes()
    stored = [hash_recovery_code(c) for c in codes]
    assert match_recovery_code(codes[3], stored) == stored[3]
    assert match_recovery_code(codes[3].upper().replace("-", ""), stored) == stored[3]
    # Once the caller deletes the used hash, the code no longer works.
    remaining = [h for h in stored if h != stored[3]]
    assert match_recovery_code(codes[3], remaining) is None


def test_match_recovery_code_misses() -> None:
    stored = [hash_recovery_code(c) for c in generate_recovery_codes()]
    unused = next(c for c in generate_recovery_codes(50) if hash_recovery_code(c) not in stored)
    assert match_recovery_code(unused, stored) is None
    assert match_recovery_code("not a code", stored) is None
    assert match_recovery_code(None, stored) is None  # type: ignore[arg-type]
    assert match_recovery_code(generate_recovery_codes(1)[0], []) is None
    assert match_recovery_code("7k2m-9xqd-4t", iter([])) is None
