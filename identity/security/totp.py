"""Second factor: TOTP (RFC 6238) on pyotp, and single-use recovery codes.

TOTP uses the authenticator-app defaults every app supports: HMAC-SHA1,
6 digits, 30-second steps, 160-bit secrets (RFC 4226 §4 R6 recommends 160).
Verification accepts one step of clock drift either side (RFC 6238 §5.2) and
refuses any step at or before the last one accepted for the account, so an
observed code cannot be replayed ("the verifier MUST NOT accept the second
attempt of the same OTP after the successful validation", RFC 6238 §5.2).
Guessing is bounded by the caller's rate limits, not here.
"""

import hashlib
import hmac
import html
import re
import secrets
import unicodedata
from collections.abc import Iterable

import pyotp
import segno

__all__ = [
    "RECOVERY_CODE_ALPHABET",
    "TOTP_DIGITS",
    "TOTP_INTERVAL",
    "generate_recovery_codes",
    "hash_recovery_code",
    "match_recovery_code",
    "new_totp_secret",
    "provisioning_uri",
    "qr_svg",
    "verify_totp",
]

TOTP_INTERVAL = 30
TOTP_DIGITS = 6
# Steps either side of "now" we accept, for phones whose clock drifts.
_DRIFT_STEPS = 1
_SECRET_BASE32_CHARS = 32  # 32 base32 chars = 160 bits

_CODE_RE = re.compile(rf"[0-9]{{{TOTP_DIGITS}}}")


def new_totp_secret() -> str:
    """A fresh random 160-bit TOTP secret, base32 (what authenticator apps take)."""
    return pyotp.random_base32(length=_SECRET_BASE32_CHARS)


def provisioning_uri(secret: str, account_name: str, issuer: str = "e-Gateway") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans.

    ``account_name`` is shown in the resident's app; use something they
    recognise (their email), never the identity-document number.
    """
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_svg(uri: str, *, title: str = "QR code to scan with your authenticator app") -> str:
    """Render ``uri`` as an inline ``<svg>`` element to embed in a page.

    Carries ``role="img"``, an ``aria-label`` and a ``<title>`` so screen
    readers announce it, and a white background so it scans on dark themes.
    The page must also show the secret as text for residents who cannot scan.
    """
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=4, dark="#000", light="#fff", title=title)
    label = html.escape(title, quote=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _normalise_otp(code: str) -> str | None:
    # Residents paste "123 456" or type full-width digits on a CJK keyboard.
    compact = "".join(unicodedata.normalize("NFKC", code).split())
    return compact if _CODE_RE.fullmatch(compact) else None


def verify_totp(secret: str, code: str, *, last_used_step: int | None, now: float) -> int | None:
    """Check a TOTP code; return the matched time step, or None.

    Accepts the steps ``now``-1, ``now``, ``now``+1 (30 s each) but never a
    step ``<= last_used_step`` (replay defence, RFC 6238 §5.2). The caller
    stores the returned step as the account's new ``last_used_step`` in the
    same transaction that completes the login.
    """
    candidate = _normalise_otp(code) if isinstance(code, str) else None
    if candidate is None:
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = int(now // TOTP_INTERVAL)
    matched: int | None = None
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        # Compare every window, without early exit, in constant time.
        if hmac.compare_digest(totp.generate_otp(step), candidate) and matched is None:
            matched = step
    return matched


# Recovery codes ------------------------------------------------------------

# Crockford's Base32 alphabet (https://www.crockford.com/base32.html): no
# i, l, o, u, so "1"/"l"/"i" and "0"/"o" cannot be confused; on input the
# look-alike letters are mapped back as Crockford specifies.
RECOVERY_CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_CODE_LEN = 10  # 10 chars x 5 bits = 50 bits of entropy
_CROCKFORD_INPUT_MAP = str.maketrans({"o": "0", "i": "1", "l": "1"})
_RECOVERY_RE = re.compile(rf"[{RECOVERY_CODE_ALPHABET}]{{{_RECOVERY_CODE_LEN}}}")


def generate_recovery_codes(n: int = 10) -> list[str]:
    """Return ``n`` fresh recovery codes like ``"7k2m-9xqd-4t"`` (50 bits each).

    Show them once; store only :func:`hash_recovery_code` of each.
    """
    codes = []
    for _ in range(n):
        raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(_RECOVERY_CODE_LEN))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def _normalise_recovery_code(code: str) -> str:
    folded = unicodedata.normalize("NFKC", code).lower()
    compact = "".join(folded.replace("-", " ").split()).translate(_CROCKFORD_INPUT_MAP)
    if not _RECOVERY_RE.fullmatch(compact):
        raise ValueError("not a recovery code")
    return compact


def hash_recovery_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code, for storage.

    Case, dashes, spaces and Crockford look-alikes are normalised first.
    A fast hash is acceptable here, unlike for passwords: the codes are
    uniformly random with 50 bits of entropy, so there is no dictionary to
    try; online guessing is hopeless under rate limits, and an offline
    attacker holding the database must search about 2**49 SHA-256 inputs on
    average (GPU-days) to recover codes that only stand in for the second
    factor, the password still being required. A slow hash would mostly make
    checking ten stored codes per login expensive.

    Raises:
        ValueError: ``code`` is not shaped like a recovery code.
    """
    return hashlib.sha256(_normalise_recovery_code(code).encode("ascii")).hexdigest()


def match_recovery_code(code: str, stored_hashes: Iterable[str]) -> str | None:
    """Return the stored hash that ``code`` matches, or None.

    The caller deletes the returned hash (codes are single-use). Every stored
    hash is compared with :func:`hmac.compare_digest`, without early exit.
    """
    try:
        candidate = hash_recovery_code(code)
    except (ValueError, TypeError, AttributeError):
        return None
    matched: str | None = None
    for stored in stored_hashes:
        if hmac.compare_digest(candidate, stored) and matched is None:
            matched = stored
    return matched
