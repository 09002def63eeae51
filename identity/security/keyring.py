"""Every key the identity service uses, derived in ONE place from the master secret.

Each purpose gets its own HKDF sub-key (:func:`kit.sealing.derive_key`), so a key is never
shared between two algorithms or two uses:

=====================  ===========================================  ==========================
purpose (HKDF info)    used for                                     algorithm
=====================  ===========================================  ==========================
``field-encryption/fN``  profile, HKID, TOTP secret, outbox bodies    AES-256-GCM (FieldCipher)
``blind-index/hkid/v1``  one account per HKID, sign-in by HKID        HMAC-SHA256 (BlindIndex)
``blind-index/email/v1`` one account per email, sign-in by email      HMAC-SHA256 (BlindIndex)
``otp-codes/v1``         recovery codes, emailed/SMS one-time codes   HMAC-SHA256
``throttle/v1``          throttle keys for identifiers typed at sign-in  HMAC-SHA256
``csrf/v1``              CSRF tokens bound to the pre-session cookie  HMAC-SHA256
=====================  ===========================================  ==========================

Key rotation (field encryption). Field-encryption keys are numbered generations ``f1``,
``f2``, ... derived from the master secret; ``EGATE_FIELD_KEY_GENERATION`` (default 1) names
the active one, and every older generation stays derivable so existing ciphertexts keep
decrypting. To rotate: raise ``EGATE_FIELD_KEY_GENERATION`` on every replica, restart them,
then run ``egate field-keys rotate``, which re-encrypts every encrypted column still under an
older generation (idempotent; run it again after a replica that was slow to restart). Blind
indexes are not rotated by this: they do not wear out with use.

The recovery-code and one-time-code digests are keyed (HMAC) rather than plain SHA-256: a
copy of the database alone is then useless for an offline search of the 50-bit recovery-code
or 20-bit emailed-code space.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cache

from identity.security.totp import _normalise_recovery_code
from kit.sealing import BlindIndex, FieldCipher, derive_key, keyed_digest

HKID_INDEX_CONTEXT = "hkid"
EMAIL_INDEX_CONTEXT = "email"


def field_key_id(generation: int) -> str:
    return f"f{generation}"


@dataclass(frozen=True)
class Keyring:
    fields: FieldCipher
    hkid_index: BlindIndex
    email_index: BlindIndex
    _otp_key: bytes
    _throttle_key: bytes

    def hkid_digest(self, canonical_hkid: str) -> str:
        return self.hkid_index.digest(canonical_hkid, context=HKID_INDEX_CONTEXT)

    def email_digest(self, email: str) -> str:
        return self.email_index.digest(normalise_email(email), context=EMAIL_INDEX_CONTEXT)

    def hash_recovery_code(self, code: str) -> str:
        """Keyed digest of a recovery code (normalised as identity.security.totp does).

        Raises:
            ValueError: ``code`` is not shaped like a recovery code.
        """
        compact = _normalise_recovery_code(code)
        return keyed_digest(self._otp_key, "recovery\x00" + compact)

    def match_recovery_code(self, code: str, stored_hashes: list[str]) -> str | None:
        """The stored digest ``code`` matches, or None; compares every one, without early exit."""
        try:
            candidate = self.hash_recovery_code(code)
        except (ValueError, TypeError, AttributeError):
            return None
        matched = None
        for stored in stored_hashes:
            if hmac.compare_digest(candidate, stored) and matched is None:
                matched = stored
        return matched

    def hash_one_time_code(self, purpose: str, account_id: str, code: str) -> str:
        """Keyed digest of an emailed/SMS code, bound to its account and purpose."""
        return keyed_digest(self._otp_key, f"otc\x00{purpose}\x00{account_id}\x00{code}")

    def throttle_digest(self, identifier: str) -> str:
        return keyed_digest(self._throttle_key, identifier)[:40]


def normalise_email(email: str) -> str:
    """Lower-cased and trimmed: the spelling the email blind index is computed over."""
    return email.strip().lower()


@cache
def build_keyring(master_key: bytes, field_generation: int = 1) -> Keyring:
    fields = {
        field_key_id(generation): derive_key(master_key, f"field-encryption/{field_key_id(generation)}")
        for generation in range(1, field_generation + 1)
    }
    return Keyring(
        fields=FieldCipher(fields, field_key_id(field_generation)),
        hkid_index=BlindIndex(derive_key(master_key, "blind-index/hkid/v1")),
        email_index=BlindIndex(derive_key(master_key, "blind-index/email/v1")),
        _otp_key=derive_key(master_key, "otp-codes/v1"),
        _throttle_key=derive_key(master_key, "throttle/v1"),
    )
