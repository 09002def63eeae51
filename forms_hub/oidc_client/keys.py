"""The keys the hub keeps its relying-party state under, derived once from the master secret.

Nothing of a sign-in is stored in clear: ``state``, the browser binding and the session token
are kept as keyed digests (an attacker reading the database cannot replay them), the session
cookie carries an HMAC over its token (a forged cookie costs no query), and the client secret
and the prefill tokens are sealed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from forms_hub.crypto import Sealer, derive_key
from kit import sealing


class RelyingPartyKeys:
    def __init__(self, master_key: bytes) -> None:
        self._state = derive_key(master_key, "auth-state")
        self._binding = derive_key(master_key, "auth-binding")
        self._session = derive_key(master_key, "session")
        self._cookie = derive_key(master_key, "session-cookie")
        self.client_secret = Sealer(master_key, "rp-client-secret/v1")
        self.prefill_tokens = Sealer(master_key, "prefill-tokens/v1")

    def state_digest(self, state: str) -> str:
        return sealing.keyed_digest(self._state, state)

    def binding_digest(self, binding: str) -> str:
        return sealing.keyed_digest(self._binding, binding)

    def session_digest(self, token: str) -> str:
        return sealing.keyed_digest(self._session, token)

    def cookie_signature(self, token: str) -> str:
        mac = hmac.new(self._cookie, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()
