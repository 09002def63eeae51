"""DPoP (RFC 9449): proofs of possession checked once for every server of the gateway.

The provider's token and PAR endpoints check a proof before binding what they issue to its
key (``cnf.jkt``); every resource server (userinfo, the consent API, the forms hub's API)
checks a proof with each DPoP-bound access token, through ``AccessTokenVerifier.verify``
(``kit.access_tokens``), so the rule is written here once.

Defended against (RFC 9449 §4.3, §11):
- proofs that are not proofs: ``typ`` must be ``dpop+jwt``; the signature must verify with
  the public key in the ``jwk`` header, under an asymmetric algorithm of ALGORITHMS (never
  ``none`` nor an HMAC); a ``jwk`` holding private key material is refused;
- proofs made for another request: ``htm`` must be the request's method and ``htu`` its URL
  (query and fragment ignored, scheme and host compared case-insensitively, default ports
  dropped), and with an access token ``ath`` must be the token's SHA-256;
- proofs made in advance or kept: ``iat`` must lie within PROOF_LIFETIME_SECONDS (and at
  most CLOCK_SKEW_SECONDS ahead); with server nonces the proof carries one we issued
  lately (``use_dpop_nonce`` otherwise, RFC 9449 §8, §9);
- replayed proofs: a proof's ``jti`` is accepted once per key (``ProofReplay``, durable
  across workers where the deployment wires its database-backed store);
- oversized input: proofs longer than MAX_PROOF_LENGTH are refused before parsing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from starlette.types import Scope

from kit.sealing import derive_key

ALGORITHMS = ("ES256", "ES384", "PS256")  # asymmetric only (RFC 9449 §4.2); FAPI 2.0 §5.4.1
PROOF_TYPE = "dpop+jwt"
MAX_PROOF_LENGTH = 8192
PROOF_LIFETIME_SECONDS = 60
CLOCK_SKEW_SECONDS = 5
NONCE_WINDOW_SECONDS = 60
SCHEME = "DPoP"
INVALID_DPOP_PROOF = "invalid_dpop_proof"
USE_DPOP_NONCE = "use_dpop_nonce"
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_KEY_TYPES: dict[str, type[ECKey] | type[RSAKey]] = {"EC": ECKey, "RSA": RSAKey}


class _ProofRegistry(jws.JWSRegistry):
    """joserfc's rules with room for the public key a proof carries in its header (an RSA
    key's ``n`` alone is 342 characters; joserfc's default limit is 512 bytes)."""

    max_header_length = 2048


_REGISTRY = _ProofRegistry(algorithms=list(ALGORITHMS))


class InvalidProof(ValueError):
    """A DPoP proof that does not hold. ``error`` is the OAuth error code to answer with
    (``invalid_dpop_proof``, or ``use_dpop_nonce`` when only a fresh nonce is missing); the
    message is safe to show the caller."""

    def __init__(self, message: str, error: str = INVALID_DPOP_PROOF) -> None:
        super().__init__(message)
        self.error = error


class ProofReplay(Protocol):
    """Remembers the proofs seen: ``first_use`` is True the first time a ``key`` is offered,
    False ever after until ``expires_at`` (RFC 9449 §11.1)."""

    def first_use(self, key: str, expires_at: datetime) -> bool: ...


class MemoryProofReplay:
    """A ``ProofReplay`` for one process (a service deployed alone, and tests): bounded, and
    forgets what has expired. A deployment of several workers wires a shared store."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[str, datetime] = {}

    def first_use(self, key: str, expires_at: datetime) -> bool:
        with self._lock:
            if len(self._seen) >= self.max_entries:
                horizon = expires_at - timedelta(seconds=2 * (PROOF_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS))
                self._seen = {k: at for k, at in self._seen.items() if at > horizon}
                if len(self._seen) >= self.max_entries:
                    return False  # full of live entries: refuse rather than forget one
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            return True


class DpopNonces:
    """Server-provided nonces (RFC 9449 §8) that need no storage: the nonce names a time
    window and carries an HMAC of it under a key derived from the master secret, so every
    worker and every service of the deployment issues and accepts the same ones. A nonce
    is accepted during its window and the next (NONCE_WINDOW_SECONDS to twice that)."""

    def __init__(self, key: bytes, window_seconds: int = NONCE_WINDOW_SECONDS) -> None:
        self._key = key
        self.window = window_seconds

    def _window(self, now: datetime) -> int:
        return int(now.timestamp()) // self.window

    def _mac(self, window: int) -> bytes:
        message = b"dpop-nonce\x00" + struct.pack(">q", window)
        return hmac.new(self._key, message, hashlib.sha256).digest()[:18]

    def issue(self, now: datetime) -> str:
        window = self._window(now)
        return _b64(struct.pack(">q", window) + self._mac(window))

    def valid(self, nonce: Any, now: datetime) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except ValueError:
            return False
        if len(raw) != 26:
            return False
        (window,) = struct.unpack(">q", raw[:8])
        if window not in (self._window(now), self._window(now) - 1):
            return False
        return hmac.compare_digest(raw[8:], self._mac(window))


def deployment_nonces(master_key: bytes) -> DpopNonces:
    """The nonces every service of one deployment issues and accepts."""
    return DpopNonces(derive_key(master_key, "dpop-nonce/v1"))


def resource_server_verifier(master_key: bytes, replay: ProofReplay | None = None) -> DpopProofVerifier:
    """What a resource server of the deployment checks proofs with: the deployment's
    nonces (accepted, not demanded) and ``replay`` (a process-local memory without one)."""
    return DpopProofVerifier(nonces=deployment_nonces(master_key), replay=replay or MemoryProofReplay())


@dataclass(frozen=True)
class DpopProof:
    """A proof that verified: ``jkt`` is its key's RFC 7638 thumbprint."""

    jkt: str
    jti: str
    htm: str
    htu: str
    iat: int
    nonce: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_hash(token: str) -> str:
    """``ath`` (RFC 9449 §4.2): base64url of the SHA-256 of the token's ASCII."""
    return _b64(hashlib.sha256(token.encode("ascii", "replace")).digest())


def jwk_thumbprint(key: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (RFC 9449 §6.1 ``jkt``)."""
    key_type = _KEY_TYPES.get(str(key.get("kty")))
    if key_type is None:
        raise InvalidProof("the proof's key type is not supported")
    try:
        return str(key_type.import_key(dict(key)).thumbprint())
    except (JoseError, ValueError, TypeError):
        raise InvalidProof("the proof's key cannot be read") from None


def normalized_url(url: str) -> str:
    """``htu`` as compared (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2-6.2.3): no query or
    fragment, lower-case scheme and host, no default port, ``/`` for an empty path."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def url_path(scope: Scope) -> str:
    """``request.url.path``, without building the request's whole URL and parsing it again
    (what Starlette's ``URL`` does, about 10 us on every userinfo and token call): the path
    with the characters that would end it escaped, as ``URL`` escapes them."""
    path: str = scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def public_url(issuer: str, path: str) -> str:
    """The URL a client addresses for ``path`` of the deployment: the issuer's, never one
    rebuilt from the request's Host header (as ``identity.oidc.adapter`` does)."""
    return issuer.rstrip("/") + path


class DpopProofVerifier:
    """Checks DPoP proofs (see the module's docstring). ``nonces``: the deployment's
    nonces; ``require_nonce``: every proof must carry a live one (the provider's token and
    PAR endpoints). Without it a proof may omit the nonce, but one it carries must be live.
    ``replay``: where proofs seen are remembered; each call may pass its own (a store bound
    to the request's unit of work)."""

    def __init__(
        self,
        *,
        nonces: DpopNonces | None,
        replay: ProofReplay | None = None,
        require_nonce: bool = False,
        algorithms: tuple[str, ...] = ALGORITHMS,
        lifetime_seconds: int = PROOF_LIFETIME_SECONDS,
        clock_skew_seconds: int = CLOCK_SKEW_SECONDS,
    ) -> None:
        self.nonces = nonces
        self.replay = replay
        self.require_nonce = require_nonce and nonces is not None
        self.algorithms = algorithms
        self.lifetime = lifetime_seconds
        self.clock_skew = clock_skew_seconds

    def fresh_nonce(self, now: datetime) -> str | None:
        return self.nonces.issue(now) if self.nonces is not None else None

    def verify(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        now: datetime,
        access_token: str | None = None,
        replay: ProofReplay | None = None,
    ) -> DpopProof:
        """The verified proof, or ``InvalidProof``. The ``jti`` is recorded last, so a
        proof refused for another reason can be corrected and sent again."""
        if not isinstance(proof, str) or not proof or len(proof) > MAX_PROOF_LENGTH:
            raise InvalidProof("the DPoP proof is missing or too long")
        header, claims = self._signed(proof)
        jkt = jwk_thumbprint(header["jwk"])
        jti, htm, htu, iat = (claims.get(name) for name in ("jti", "htm", "htu", "iat"))
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise InvalidProof("the DPoP proof's jti is missing or malformed")
        if htm != method.upper():
            raise InvalidProof("the DPoP proof was made for another HTTP method (htm)")
        if not isinstance(htu, str) or normalized_url(htu) != normalized_url(url):
            raise InvalidProof("the DPoP proof was made for another URL (htu)")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise InvalidProof("the DPoP proof's iat is missing")
        age = now.timestamp() - iat
        if age > self.lifetime or age < -self.clock_skew:
            raise InvalidProof("the DPoP proof is too old or not yet valid (iat)")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
                raise InvalidProof("the DPoP proof does not name this access token (ath)")
        nonce = claims.get("nonce")
        needs_nonce = nonce is not None or self.require_nonce
        if needs_nonce and (self.nonces is None or not self.nonces.valid(nonce, now)):
            raise InvalidProof("a fresh DPoP nonce is required (DPoP-Nonce)", USE_DPOP_NONCE)
        store = replay or self.replay
        if store is None:
            raise InvalidProof("DPoP proofs cannot be accepted here")
        expires = datetime.fromtimestamp(iat, tz=now.tzinfo) + timedelta(
            seconds=self.lifetime + self.clock_skew
        )
        replay_key = hashlib.sha256(f"{jkt}\x00{jti}".encode()).hexdigest()
        if not store.first_use(replay_key, max(expires, now)):
            raise InvalidProof("the DPoP proof was already used (jti)")
        return DpopProof(
            jkt=jkt, jti=jti, htm=htm, htu=htu, iat=int(iat), nonce=nonce if isinstance(nonce, str) else None
        )

    def _signed(self, proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            header = jws.extract_compact(proof.encode(), registry=_REGISTRY).protected
        except (JoseError, ValueError, TypeError):
            raise InvalidProof("the DPoP proof is not a signed JWT") from None
        if header.get("typ") != PROOF_TYPE:
            raise InvalidProof("the DPoP proof's typ must be dpop+jwt")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidProof(f"the DPoP proof must be signed with one of {', '.join(self.algorithms)}")
        if "crit" in header:
            raise InvalidProof("the DPoP proof uses an unsupported critical extension")
        public = header.get("jwk")
        if not isinstance(public, dict) or any(member in public for member in _PRIVATE_MEMBERS):
            raise InvalidProof("the DPoP proof's jwk must be a public key")
        key_type = _KEY_TYPES.get(str(public.get("kty")))
        if key_type is None:
            raise InvalidProof("the proof's key type is not supported")
        try:
            key = key_type.import_key(public)
            verified = jws.deserialize_compact(proof, key, algorithms=[alg], registry=_REGISTRY)
            claims = json.loads(verified.payload)
        except (JoseError, ValueError, TypeError):
            raise InvalidProof("the DPoP proof's signature does not verify") from None
        if not isinstance(claims, dict):
            raise InvalidProof("the DPoP proof's payload is not a JSON object")
        return header, claims


@dataclass(frozen=True)
class Presentation:
    """How an access token reached a resource server (RFC 9449 §7.1): the ``Authorization``
    scheme (``bearer`` or ``dpop``), the DPoP proof header (None when absent), and the
    request it came with, as the client addressed it."""

    scheme: str
    proof: str | None
    method: str
    url: str
    multiple_proofs: bool = False


def read_authorization(
    authorization: str | None, proofs: list[str], method: str, url: str
) -> tuple[str, Presentation] | None:
    """The token of an ``Authorization: Bearer|DPoP <token>`` header and how it came, or
    None without one. ``proofs``: every ``DPoP`` header value (more than one is refused)."""
    scheme, _, token = (authorization or "").partition(" ")
    scheme = scheme.lower()
    token = token.strip()
    if scheme not in ("bearer", "dpop") or not token:
        return None
    presentation = Presentation(
        scheme=scheme,
        proof=proofs[0] if proofs else None,
        method=method,
        url=url,
        multiple_proofs=len(proofs) > 1,
    )
    return token, presentation


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token is bound to (RFC 9449 §6.1), or None."""
    cnf = claims.get("cnf")
    if isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str):
        return str(cnf["jkt"])
    return None
