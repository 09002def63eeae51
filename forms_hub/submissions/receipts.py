"""Signed receipts: a compact JWS (ES256) the hub issues for every submission, verifiable by
anyone with the hub's published keys (``/forms/.well-known/jwks.json``).

A receipt names the reference, the form and version, the department, the time, and a
SHA-256 over the answers and attachments — never the answers themselves, so a printed or
shared receipt reveals nothing but that a submission with this content was made.

Defended against: forged receipts (ES256 only; ``alg: none`` and HMAC-with-the-public-key
tricks fail because only ES256 is accepted), receipts of another issuer (``iss`` checked)
and other JWTs of the hub passed off as receipts (the ``typ`` header must be ``receipt+jwt``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from jose import jwk, jwt
from jose.exceptions import JOSEError

from forms_hub.crypto import derived_signing_key
from kit.i18n import N_

RECEIPT_TYPE = "receipt+jwt"
ALGORITHM = "ES256"
MAX_RECEIPT_LENGTH = 8192


class InvalidReceipt(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint of an EC key: the key id."""
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    return _b64(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())


class ReceiptSigner:
    def __init__(self, master_key: bytes, issuer: str, generation: int) -> None:
        self.issuer = issuer
        self._private: dict[str, Any] = {}
        self._public: dict[str, Any] = {}
        self._published: list[dict[str, Any]] = []
        for gen in range(1, generation + 1):
            private_key = derived_signing_key(master_key, gen)
            public = jwk.construct(private_key.public_key(), ALGORITHM)
            public_jwk = {k: v for k, v in public.to_dict().items() if k in ("kty", "crv", "x", "y")}
            kid = thumbprint(public_jwk)
            self._public[kid] = public
            self._private[kid] = jwk.construct(private_key, ALGORITHM)
            self._published.append({**public_jwk, "kid": kid, "use": "sig", "alg": ALGORITHM})
            self.current_kid = kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(reversed(self._published))}

    def sign(self, claims: dict[str, Any]) -> str:
        headers = {"kid": self.current_kid, "typ": RECEIPT_TYPE}
        token: str = jwt.encode(
            {"iss": self.issuer, **claims}, self._private[self.current_kid], ALGORITHM, headers
        )
        return token

    def verify(self, receipt: str) -> dict[str, Any]:
        """The receipt's claims if it is one of ours, untampered.

        Raises:
            InvalidReceipt: with a short reason.
        """
        if not isinstance(receipt, str) or len(receipt) > MAX_RECEIPT_LENGTH or receipt.count(".") != 2:
            raise InvalidReceipt(N_("not a compact JWS"))
        try:
            header = jwt.get_unverified_header(receipt)
        except JOSEError:
            raise InvalidReceipt(N_("not a compact JWS")) from None
        if header.get("alg") != ALGORITHM or header.get("typ") != RECEIPT_TYPE:
            raise InvalidReceipt(N_("not a forms hub receipt"))
        key = self._public.get(header.get("kid", ""))
        if key is None:
            raise InvalidReceipt(N_("signed with a key the hub does not publish"))
        try:
            claims: dict[str, Any] = jwt.decode(
                receipt, key, algorithms=[ALGORITHM], issuer=self.issuer, options={"verify_aud": False}
            )
        except JOSEError:
            raise InvalidReceipt(N_("the signature does not verify")) from None
        return claims
