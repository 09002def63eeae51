"""Password hashing (argon2id) and password policy (NIST SP 800-63B).

Hashing
-------
Argon2id (RFC 9106) through argon2-cffi. The defaults are the OWASP Password
Storage Cheat Sheet minimum for argon2id: m = 19456 KiB (19 MiB), t = 2,
p = 1. Parameters are passed in from settings so they can be raised later;
hashes made with older parameters are upgraded at the next successful login
(:meth:`PasswordHasher.verify_and_maybe_rehash`).

Passwords are NFKC-normalised before hashing, as SP 800-63B §5.1.1.2
recommends, so the same password typed with a full-width or a half-width
input method verifies the same way.

Policy
------
:func:`check_password_policy` follows SP 800-63B §5.1.1.2 (memorized secret
verifiers): at least 8 characters, long passwords allowed (we cap at 256),
no composition rules, and refusal of passwords found in a list of commonly
used or compromised values and of context-specific words.

The common-password list
------------------------
``common_passwords.txt`` (beside this module, one entry per line, lower-case,
sorted, only entries of 8+ characters because shorter ones are already
refused) was generated offline, without network access, from:

* a curated seed of the classic weak passwords heading published breach
  frequency lists (RockYou, LinkedIn 2012, Adobe 2013, yearly "worst
  passwords" lists: ``password``, ``123456``, ``qwerty``, ``iloveyou``,
  ``letmein``, ``trustno1``...), patterns frequent in Chinese-language
  corpora (``woaini1314``, ``5201314``, ``aa123456``, ``qq123456``) and
  context words for this service and region (``hongkong``, ``kowloon``,
  ``egateway``, ``iamsmart``, common Hong Kong surnames);
* keyboard walks of 8+ keys along rows and columns, forwards and backwards
  (``qwertyuiop``, ``1qaz2wsx3edc``, ``1q2w3e4r``, ``asdfzxcv``);
* repeated characters and chunks (``aaaaaaaa``, ``12121212``, ``abcabcabc``);
* ascending/descending digit runs and doubled runs (``12345678``,
  ``87654321``, ``12344321``, ``11223344``);
* every base word decorated with a year 1950-2030 (four and two digits),
  with common suffixes (``1``, ``12``, ``123``, ``1234``, ``!``, ``@123``,
  ``1314``...), doubled, prefixed with ``1``/``123``, and in leetspeak
  (``a->@/4``, ``e->3``, ``i->1``, ``o->0``, ``s->$/5``, ``t->7``).

It is a floor, not a breach corpus: when a k-anonymity breach service or a
larger offline list becomes available, replace the file (same format).
"""

import contextlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path

import argon2
from argon2.exceptions import VerificationError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordHasher",
    "check_password_policy",
    "is_common_password",
]

_COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Context words shorter than this would refuse too many unrelated passwords.
MIN_CONTEXT_WORD_LENGTH = 4

# OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
DEFAULT_TIME_COST = 2
DEFAULT_MEMORY_COST_KIB = 19_456
DEFAULT_PARALLELISM = 1


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Argon2id password hashing with upgrade-on-login and timing-safe misses.

    Defends stored passwords against offline guessing (memory-hard argon2id,
    RFC 9106) and account enumeration through response time
    (:meth:`dummy_verify`).
    """

    def __init__(
        self,
        *,
        time_cost: int = DEFAULT_TIME_COST,
        memory_cost: int = DEFAULT_MEMORY_COST_KIB,
        parallelism: int = DEFAULT_PARALLELISM,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        """Return an encoded argon2id hash (``$argon2id$v=19$m=...``)."""
        return self._hasher.hash(_normalise(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """Return whether ``password`` matches ``stored_hash``.

        Never raises for a wrong password or a malformed/unsupported hash: both
        are simply ``False``. A malformed hash still costs one dummy
        verification so it is not distinguishable by timing.
        """
        if not isinstance(stored_hash, str) or not isinstance(password, str):
            self.dummy_verify(password if isinstance(password, str) else "")
            return False
        try:
            return self._hasher.verify(stored_hash, _normalise(password))
        except VerificationError:
            return False
        except ValueError:
            # InvalidHashError, UnsupportedParametersError, non-ASCII hash text.
            self.dummy_verify(password)
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was not made with the current parameters.

        An unparseable hash also answers True: it cannot be trusted to be
        current, and the next successful login (if any) should replace it.
        """
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (ValueError, TypeError):
            return True

    def verify_and_maybe_rehash(self, stored_hash: str, password: str) -> tuple[bool, str | None]:
        """Verify, and on success return a fresh hash if parameters changed.

        Returns ``(ok, new_hash)``; the caller stores ``new_hash`` when it is
        not None. Login is the only time we hold the clear password, so it is
        the moment to upgrade the hash.
        """
        if not self.verify(stored_hash, password):
            return False, None
        if self.needs_rehash(stored_hash):
            return True, self.hash(password)
        return True, None

    @cached_property
    def _dummy_hash(self) -> str:
        # Same parameters as real hashes so a dummy verification costs the
        # same; the secret is random and discarded, so nothing ever matches.
        return self._hasher.hash(secrets.token_urlsafe(32))

    def dummy_verify(self, password: str) -> bool:
        """Spend one verification's worth of time; always returns False.

        Call it when the account does not exist (or has no password) so that
        "unknown account" and "wrong password" take the same time, defending
        against account enumeration by timing (OWASP Authentication Cheat
        Sheet, "Authentication and Error Messages").
        """
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy_hash, _normalise(password))
        return False


@cache
def _common_passwords() -> frozenset[str]:
    # Loaded on first use only: ~50k entries that most processes never need.
    text = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def is_common_password(password: str) -> bool:
    """Whether ``password`` (case-insensitive, NFKC) is in the bundled list."""
    return _normalise(password).lower() in _common_passwords()


_WORD_SPLIT_RE = re.compile(r"[\W_]+")


def _context_tokens(context_words: Iterable[str]) -> set[str]:
    tokens: set[str] = set()
    for item in context_words:
        folded = _normalise(item).casefold()
        # "jane.doe" blocks "jane.doe" as well as "jane" and "doe"-words.
        for token in [folded, *_WORD_SPLIT_RE.split(folded)]:
            if len(token) >= MIN_CONTEXT_WORD_LENGTH:
                tokens.add(token)
    return tokens


def check_password_policy(password: str, *, context_words: Iterable[str] = ()) -> list[str]:
    """Check a new password against NIST SP 800-63B §5.1.1.2.

    Returns reason codes (empty list = acceptable), in a stable order:

    * ``"too_short"``: fewer than 8 Unicode code points after NFKC;
    * ``"too_long"``: more than 256 code points;
    * ``"common"``: in the bundled list of common/breached passwords;
    * ``"contextual"``: contains, case-insensitively, one of
      ``context_words`` (or a 4+ character word within one). Pass the email
      local part, names and the like, not the email domain.

    Deliberately no composition rules (SP 800-63B: SHALL NOT impose them).
    """
    normalised = _normalise(password)
    reasons: list[str] = []
    if len(normalised) < MIN_PASSWORD_LENGTH:
        reasons.append("too_short")
    if len(normalised) > MAX_PASSWORD_LENGTH:
        reasons.append("too_long")
    if is_common_password(normalised):
        reasons.append("common")
    folded = normalised.casefold()
    if any(token in folded for token in _context_tokens(context_words)):
        reasons.append("contextual")
    return reasons
