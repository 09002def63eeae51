"""Requests signed by a bound device's ES256 key (the phone app's proof of possession).

Compact JWS, header ``{"alg": "ES256", "typ": "egate-device+jwt", "kid": <device id>}``,
claims ``aud`` (the issuer), ``iat``, ``exp`` (at most two minutes later), ``jti`` (one-time),
``action`` and, per action, ``rid`` and ``code``. Defends against: replay (``jti`` kept
until expiry), a signature from another or a removed device, tampering, and old approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from identity.devices import repository
from identity.devices.models import Device

SIGNED_REQUEST_TYPE = "egate-device+jwt"
MAX_LIFETIME = 120
CLOCK_SKEW = 30


class DeviceSignatureError(Exception):
    """The signed request is refused; the message says why (safe to show the app)."""


@dataclass(frozen=True)
class SignedRequest:
    device: Device
    claims: dict[str, Any]


def verify_device_request(
    db: Session, token: str, *, issuer: str, action: str, now: datetime
) -> SignedRequest:
    if not token or len(token) > 4096:
        raise DeviceSignatureError("missing or oversized signature")
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise DeviceSignatureError("not a compact JWS") from None
    if header.get("typ") != SIGNED_REQUEST_TYPE or header.get("alg") != "ES256":
        raise DeviceSignatureError("wrong signature type or algorithm")
    device = repository.get_device(db, str(header.get("kid", ""))[:32])
    if device is None or device.removed_at is not None:
        raise DeviceSignatureError("unknown or removed device")
    try:
        key = ECKey.import_key(device.public_jwk)
        claims = jwt.decode(token, key, algorithms=["ES256"]).claims
    except (JoseError, ValueError):
        raise DeviceSignatureError("the signature does not verify with the device's key") from None
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    stamp = now.timestamp()
    if claims.get("aud") != issuer or claims.get("action") != action:
        raise DeviceSignatureError("signed for another audience or action")
    if not isinstance(iat, int) or not isinstance(exp, int) or not isinstance(jti, str) or len(jti) > 64:
        raise DeviceSignatureError("iat, exp and jti are required")
    if iat > stamp + CLOCK_SKEW or exp < stamp or exp - iat > MAX_LIFETIME:
        raise DeviceSignatureError("the signed request has expired or is not yet valid")
    kept_until = now + timedelta(seconds=MAX_LIFETIME + CLOCK_SKEW)
    if not repository.record_signature_jti(db, jti, device.id, kept_until):
        raise DeviceSignatureError("this signed request was already used")
    device.last_used_at = now
    return SignedRequest(device, claims)
