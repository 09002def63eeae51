"""What a client holds for DPoP (RFC 9449) and private_key_jwt, with JWS compact
serialisation (RFC 7515 §7.1) written out here over the ``cryptography`` package: nothing
here uses the joserfc the gateway verifies with."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_compact(header: dict[str, Any], claims: dict[str, Any], private: Any, alg: str) -> str:
    """A JWS in compact serialisation: ES256 (RFC 7518 §3.4: R || S, 32 bytes each) or
    PS256 (§3.5: RSASSA-PSS, SHA-256, MGF1 SHA-256, a 32-byte salt)."""
    encode = lambda value: b64(json.dumps(value, separators=(",", ":")).encode())  # noqa: E731
    signing_input = f"{encode({**header, 'alg': alg})}.{encode(claims)}".encode()
    if alg == "ES256":
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = private.sign(signing_input, pss, hashes.SHA256())
    else:
        raise ValueError(alg)
    return f"{signing_input.decode()}.{b64(signature)}"


class KeyHolder:
    """A key pair with its public JWK: a client's DPoP key or its private_key_jwt key."""

    def __init__(self, kind: str = "EC", kid: str | None = None) -> None:
        if kind == "EC":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            numbers = self.private.public_key().public_numbers()
            self.jwk: dict[str, str] = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64(numbers.x.to_bytes(32, "big")),
                "y": b64(numbers.y.to_bytes(32, "big")),
            }
            self.alg = "ES256"
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            numbers = self.private.public_key().public_numbers()
            self.jwk = {
                "kty": "RSA",
                "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64(numbers.e.to_bytes(3, "big")),
            }
            self.alg = "PS256"
        self.kid = kid

    @property
    def public_jwk(self) -> dict[str, str]:
        extra = {"kid": self.kid, "use": "sig", "alg": self.alg} if self.kid else {}
        return {**self.jwk, **extra}

    @property
    def thumbprint(self) -> str:
        """RFC 7638 §3 by hand: the required members, in lexical order, without spaces."""
        members = ("crv", "kty", "x", "y") if self.jwk["kty"] == "EC" else ("e", "kty", "n")
        canonical = json.dumps({m: self.jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
        return b64(hashlib.sha256(canonical.encode()).digest())

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        if self.kid and "kid" not in headers:
            headers["kid"] = self.kid
        return sign_compact(headers, claims, self.private, self.alg)

    def proof(
        self,
        htm: str,
        htu: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        iat: float | None = None,
    ) -> str:
        """A DPoP proof (RFC 9449 §4.2)."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": htm,
            "htu": htu,
            "iat": int(iat if iat is not None else time.time()),
        }
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
        return sign_compact({"typ": "dpop+jwt", "jwk": self.jwk}, claims, self.private, self.alg)

    def client_assertion(self, client_id: str, audience: str, lifetime: int = 60) -> str:
        """private_key_jwt (RFC 7523 §2.2)."""
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        return self.sign(claims)
