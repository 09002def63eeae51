"""Subject identifiers (OIDC Core §8): pairwise per sector by default, public on request.

A pairwise ``sub`` is an HMAC of the sector and the account id, so two departments receive
different, unlinkable identifiers for the same resident (as iAM Smart's tokenised ids).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from kit.sealing import derive_key


class SubjectIdentifiers:
    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "pairwise-subject/v1")

    def for_client(self, account_id: str, subject_type: str, sector: str) -> str:
        if subject_type == "public":
            return account_id
        digest = hmac.new(self._key, f"{sector}\x00{account_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
