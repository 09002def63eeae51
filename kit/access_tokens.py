"""RFC 9068 JWT access tokens, verified locally against the issuer's JWK Set (RFC 7517 §5).

Every resource server of the gateway (the provider's own userinfo and introspection, the
consent API, the forms hub's department API) verifies the provider's access tokens here,
with keys from a ``JwksSource``: over HTTP from the published ``jwks_uri`` (``HttpJwks``),
or from a callable in the same process (``InProcessJwks``: the provider reads its own keys
from its database). Both cache the set and reload it when a token names an unknown ``kid``
(a key rotated in on another replica). ``HttpJwks`` also fetches the keys a client
registered, under ``kit.outbound``'s address policy. A ``RevocationCheck`` lets the
deployment's own resource servers refuse a revoked token before it expires.

Only verification lives here; the provider signs its tokens with Authlib/joserfc. The one
algorithm accepted (ES256) is checked with ``cryptography`` directly (RFC 7515 §5.2 over a
compact JWS), its public keys parsed once per published key: every request of every
resource server pays for this, and a general JOSE library's key construction and claim
handling cost more than the signature itself.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from kit.dpop import INVALID_DPOP_PROOF, DpopProofVerifier, InvalidProof, Presentation, bound_key
from kit.loop_thread import may_block
from kit.outbound import DestinationRefused, OutboundPolicy, guarded_client

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1, compared per §4
ALGORITHM = "ES256"
MAX_TOKEN_LENGTH = 8192
CLOCK_SKEW_SECONDS = 30
MAX_JWKS_BYTES = 64 * 1024
MAX_JWKS_KEYS = 64
# RFC 9068 §2.2: the claims every access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
# RFC 7518 §3.1: the key type each accepted signature algorithm needs.
KEY_TYPES = {"ES256": ("EC", "P-256"), "RS256": ("RSA", None)}


class InvalidToken(ValueError):
    """A token that does not verify. The message says why, in words safe to show the caller
    (it never contains the token or a key)."""

    error = "invalid_token"
    scheme = "Bearer"
    nonce: str | None = None


class SenderConstraintFailed(InvalidToken):
    """A DPoP-bound token presented without its proof, with a proof that does not hold, or
    an unbound token presented in the DPoP scheme (RFC 9449 §7). Answered with a ``DPoP``
    challenge; ``error`` is ``invalid_token``, ``invalid_dpop_proof`` or ``use_dpop_nonce``
    (then ``nonce`` is a fresh one for the ``DPoP-Nonce`` header)."""

    scheme = "DPoP"

    def __init__(self, message: str, error: str = "invalid_token", nonce: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.nonce = nonce


class JwksUnavailable(Exception):
    """The issuer's JWK Set could not be loaded and no earlier copy is cached."""


class JwksSource(Protocol):
    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        """The issuer's JWK Set; ``refresh`` asks for a fresh copy (a token names an unknown
        ``kid``). Raises ``JwksUnavailable`` when there is no set to answer with."""
        ...


class CachedJwks:
    """A JWK Set from ``load``, kept ``ttl_seconds`` and reloaded sooner when asked to
    refresh; loads start at most once per ``min_refresh_seconds``, so a flood of tokens with
    forged ``kid`` values, or of requests while the issuer is down, cannot turn into a flood
    of loads. One thread loads at a time; the others wait for its result.

    When a reload fails with ``JwksUnavailable`` the cached set keeps being served, so an
    issuer's short outage does not fail every request. Any other error of ``load``
    propagates (the in-process loader's database errors have their own handling).
    """

    loads_over_network = False  # HttpJwks: its loads wait on the network (may_block)

    def __init__(
        self,
        load: Callable[[], dict[str, Any]],
        *,
        ttl_seconds: float,
        min_refresh_seconds: float,
    ) -> None:
        self._load = load
        self.ttl = ttl_seconds
        self.min_refresh = min_refresh_seconds
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._loaded_at = self._attempted_at = float("-inf")

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            stale = self._document is None or now - self._loaded_at > self.ttl
            if (stale or refresh) and now - self._attempted_at >= self.min_refresh:
                if self.loads_over_network:
                    may_block()  # before the attempt is remembered: it is made in a thread
                self._attempted_at = now
                try:
                    self._document = checked_jwks(self._load())
                    self._loaded_at = now
                except JwksUnavailable:
                    if self._document is None:
                        raise
            if self._document is None:
                raise JwksUnavailable("the JWK Set could not be loaded; retrying shortly")
            return self._document

    def forget(self) -> None:
        """Reload on the next use (after a rotation done by this process)."""
        with self._lock:
            self._loaded_at = self._attempted_at = float("-inf")


class InProcessJwks(CachedJwks):
    """The JWK Set returned by a callable of this process, for an issuer that verifies its
    own tokens without an HTTP round trip to itself."""

    def __init__(
        self,
        load: Callable[[], dict[str, Any]],
        *,
        ttl_seconds: float = 10.0,
        min_refresh_seconds: float = 0.0,
    ) -> None:
        super().__init__(load, ttl_seconds=ttl_seconds, min_refresh_seconds=min_refresh_seconds)


class HttpJwks(CachedJwks):
    """``GET url`` (the issuer's ``jwks_uri``, RFC 8414 §2, or a client's, RFC 7591 §2).
    Defended against: an issuer or a network that hangs (a short timeout per read and
    ``total_timeout_seconds`` for the whole body), redirects to another host (not followed),
    or answers with an endless or huge body (read up to MAX_JWKS_BYTES, at most
    MAX_JWKS_KEYS keys kept).

    ``address_policy`` is for URLs that someone outside registered (``kit.outbound``): the
    URL is checked and its host resolved before each fetch, and the connection goes to the
    checked address. A refused URL is ``JwksUnavailable`` like any failed fetch, and like it
    is remembered for ``min_refresh_seconds`` (``CachedJwks``): repeating the request that
    caused it does not repeat the fetch. Without a policy the URL is trusted (the deployment's
    own issuer)."""

    loads_over_network = True

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 60.0,
        min_refresh_seconds: float = 5.0,
        client: httpx.Client | None = None,
        timeout_seconds: float = 3.0,
        total_timeout_seconds: float = 10.0,
        address_policy: OutboundPolicy | None = None,
    ) -> None:
        super().__init__(self._fetch, ttl_seconds=ttl_seconds, min_refresh_seconds=min_refresh_seconds)
        self.url = url
        self.address_policy = address_policy
        self.total_timeout = total_timeout_seconds
        if client is None:
            client = (
                guarded_client(timeout_seconds) if address_policy else httpx.Client(timeout=timeout_seconds)
            )
        self._client = client

    def _target(self) -> tuple[str, dict[str, Any]]:
        if self.address_policy is None:
            return self.url, {}
        try:
            pinned = self.address_policy.pin(self.url)
        except DestinationRefused as exc:
            raise JwksUnavailable(f"the JWKS URL {exc}") from None
        return pinned.url, pinned.request_options()

    def _fetch(self) -> dict[str, Any]:
        url, options = self._target()
        deadline = time.monotonic() + self.total_timeout
        try:
            with self._client.stream("GET", url, follow_redirects=False, **options) as response:
                if response.status_code != 200:
                    raise JwksUnavailable(f"the JWKS endpoint answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksUnavailable("the JWK Set is too large")
                    if time.monotonic() > deadline:
                        raise JwksUnavailable("the JWK Set took too long to arrive")
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"cannot fetch the JWK Set: {type(exc).__name__}") from None
        try:
            document = json.loads(bytes(body))
        except ValueError:
            raise JwksUnavailable("the JWK Set is not JSON") from None
        return checked_jwks(document)


def checked_jwks(document: Any) -> dict[str, Any]:
    """A JWK Set shaped as RFC 7517 §5 says (an object with a ``keys`` array), trimmed to its
    first MAX_JWKS_KEYS keys."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("the document is not a JWK Set")
    return {**document, "keys": document["keys"][:MAX_JWKS_KEYS]}


def find_key(jwks: JwksSource, kid: Any, algorithm: str) -> dict[str, Any]:
    """The published signing key named ``kid`` that can verify ``algorithm``; reloads the
    set once when no key matches (a rotation). Without a ``kid`` only a lone candidate is
    used (RFC 7515 §4.1.4 makes ``kid`` optional).

    Defended against algorithm confusion: a key is a candidate only if its type fits the
    algorithm (RFC 7518 §3.1) and its own ``alg`` and ``use`` (RFC 7517 §4.2, §4.4), when
    present, allow it; an RSA or symmetric key is never used for ES256, nor the reverse."""
    kty, crv = KEY_TYPES[algorithm]
    for refresh in (False, True):
        candidates = [
            key
            for key in jwks.keys(refresh=refresh)["keys"]
            if isinstance(key, dict)
            and key.get("kty") == kty
            and (crv is None or key.get("crv") == crv)
            and key.get("use", "sig") == "sig"
            and key.get("alg", algorithm) == algorithm
        ]
        if kid is None and len(candidates) == 1:
            return candidates[0]
        for candidate in candidates:
            if kid is not None and candidate.get("kid") == kid:
                return candidate
    raise InvalidToken("signed with a key the issuer does not publish")


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_P256_COORDINATE_BYTES = 32
_ES256 = ec.ECDSA(SHA256())
_MAX_PARSED_KEYS = 256
_parsed_keys: dict[tuple[str, str], ec.EllipticCurvePublicKey] = {}


def _b64url(segment: str) -> bytes:
    """Base64url without padding (RFC 7515 §2); the caller has checked the alphabet."""
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("the access token is not a signed JWT") from None


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(segment))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidToken(f"the access token's {what} is not a JSON object")
    return value


def es256_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a JWK (RFC 7518 §6.2.1), parsed once and then kept (at most
    _MAX_PARSED_KEYS: published keys are few, and a key never changes under its
    coordinates)."""
    x, y = jwk.get("x"), jwk.get("y")
    if not isinstance(x, str) or not isinstance(y, str):
        raise InvalidToken("the access token does not verify: the issuer's key is malformed")
    known = _parsed_keys.get((x, y))
    if known is not None:
        return known
    try:
        xb, yb = (
            base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)),
            base64.urlsafe_b64decode(y + "=" * (-len(y) % 4)),
        )
        if len(xb) != _P256_COORDINATE_BYTES or len(yb) != _P256_COORDINATE_BYTES:
            raise ValueError("coordinate length")
        key = ec.EllipticCurvePublicNumbers(
            int.from_bytes(xb, "big"), int.from_bytes(yb, "big"), ec.SECP256R1()
        ).public_key()
    except (binascii.Error, ValueError):
        raise InvalidToken("the access token does not verify: the issuer's key is malformed") from None
    if len(_parsed_keys) >= _MAX_PARSED_KEYS:
        _parsed_keys.clear()
    _parsed_keys[(x, y)] = key
    return key


# Tokens whose signature held, with the key it held under: a resource server sees one token
# many times in its few minutes of life, and the signature check is most of a verification.
# Only a token that verified, or that this process signed itself, enters, as its exact
# string; it is believed again only under the same key, still published (find_key runs every
# time), and every other check runs anew.
# The oldest is forgotten first when full: it is the nearest to its expiry.
_MAX_REMEMBERED_SIGNATURES = 4096
_signatures_held: OrderedDict[str, ec.EllipticCurvePublicKey] = OrderedDict()


def remember_own_signature(token: str, public_jwk: Mapping[str, Any]) -> None:
    """A token this process has just signed with the key published as ``public_jwk``: its
    signature holds by construction, so its first presentation here (a department's userinfo
    call just after the grant) need not check it again. Believed only under that same key
    still published, as a checked signature is; every other check runs anew."""
    _remember_signature(token, es256_public_key(public_jwk))


def _remember_signature(token: str, key: ec.EllipticCurvePublicKey) -> None:
    while len(_signatures_held) >= _MAX_REMEMBERED_SIGNATURES:
        try:
            _signatures_held.popitem(last=False)
        except KeyError:  # emptied meanwhile by another thread
            break
    _signatures_held[token] = key


def _es256_signature_holds(key: ec.EllipticCurvePublicKey, token: str, signing_input_length: int) -> bool:
    if _signatures_held.get(token) is key:
        return True
    signature = _b64url(token[signing_input_length + 1 :])
    if not _es256_signature_checks(key, token[:signing_input_length].encode("ascii"), signature):
        return False
    _remember_signature(token, key)
    return True


def _es256_signature_checks(key: ec.EllipticCurvePublicKey, signing_input: bytes, signature: bytes) -> bool:
    """RFC 7518 §3.4: the signature is R || S, 32 octets each, converted to the DER form
    ``cryptography`` verifies."""
    if len(signature) != 2 * _P256_COORDINATE_BYTES:
        return False
    r = int.from_bytes(signature[:_P256_COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[_P256_COORDINATE_BYTES:], "big")
    try:
        key.verify(encode_dss_signature(r, s), signing_input, _ES256)
    except InvalidSignature:
        return False
    return True


class RevocationCheck(Protocol):
    """Whether the issuer has revoked an access token, by its ``jti`` (RFC 9068 §2.2.2).
    A JWT verifies until it expires; a resource server that must honour revocation sooner
    (RFC 7009 §2: a revoked token, or one revoked because its code was replayed or its
    refresh token reused) asks this. For the resource servers of the issuer's own
    deployment; a department elsewhere asks the introspection endpoint (RFC 7662)."""

    def is_revoked(self, token_id: str) -> bool: ...


class CachedRevocationCheck:
    """A ``RevocationCheck`` that remembers answers: "revoked" for good (a revocation is
    never undone), "not revoked" for ``ttl_seconds`` only, so a revocation takes effect
    within that many seconds while a token used in a burst costs one lookup per interval.
    At most ``max_entries`` answers are kept."""

    def __init__(self, check: RevocationCheck, *, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._check = check
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, bool]] = {}

    def is_revoked(self, token_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            known = self._answers.get(token_id)
        if known is not None and (known[1] or now - known[0] < self.ttl):
            return known[1]
        revoked = self._check.is_revoked(token_id)
        if self.ttl > 0 or revoked:
            with self._lock:
                if len(self._answers) >= self.max_entries:
                    self._forget_stale(now)
                self._answers[token_id] = (now, revoked)
        return revoked

    def _forget_stale(self, now: float) -> None:
        self._answers = {
            jti: (at, revoked) for jti, (at, revoked) in self._answers.items() if now - at < self.ttl
        }
        if len(self._answers) >= self.max_entries:
            self._answers.clear()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class AccessTokenClaims:
    """The claims of a verified access token (RFC 9068 §2.2); ``raw`` has all of them,
    including those a resource server defines for itself (``department``, ``acr`` ...)."""

    issuer: str
    subject: str
    audiences: tuple[str, ...]
    client_id: str
    expires_at: int
    issued_at: int
    token_id: str
    scopes: frozenset[str]
    raw: Mapping[str, Any]


class AccessTokenVerifier:
    """Verifies RFC 9068 access tokens issued by ``issuer`` for the resource ``audience``.

    Defended against:
    - unsigned tokens (``alg: none``) and the HMAC confusion attack (the issuer's public key
      used as an HMAC secret): only ES256 verifies, with an EC P-256 key (RFC 8725 §3.1);
    - ID tokens and other JWTs of the same issuer replayed as access tokens: ``typ`` must be
      ``at+jwt`` (RFC 9068 §2.1, §4; RFC 8725 §3.11);
    - tokens minted for another resource server: ``aud`` must contain ``audience``
      (RFC 9068 §4, RFC 8707), and ``iss`` must be the issuer exactly;
    - expired and not-yet-valid tokens: ``exp`` against the service's clock with no
      leeway (a token lives minutes; a grace period would extend a stolen one), ``nbf`` and
      ``iat`` with CLOCK_SKEW_SECONDS for an issuer whose clock runs slightly ahead;
    - extensions we do not implement: a token with a ``crit`` header is refused
      (RFC 7515 §4.1.11);
    - oversized input: tokens longer than MAX_TOKEN_LENGTH are refused before parsing;
    - revoked tokens, when given a ``revocation`` check (asked after every check of the
      token itself, so forged tokens cost no lookup);
    - stolen sender-constrained tokens (RFC 9449 §7): a token bound to a key (``cnf.jkt``)
      is accepted only in the ``DPoP`` scheme with a proof by that key for this very
      request (``dpop``, ``kit.dpop``); presented as a bearer token, or to a verifier given
      no ``dpop``, it is refused. An unbound token in the DPoP scheme is refused too.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksSource,
        clock: Callable[[], datetime],
        max_token_length: int = MAX_TOKEN_LENGTH,
        clock_skew_seconds: int = CLOCK_SKEW_SECONDS,
        revocation: RevocationCheck | None = None,
        dpop: DpopProofVerifier | None = None,
    ) -> None:
        self.issuer = issuer
        self.revocation = revocation
        self.dpop = dpop
        self.audience = audience
        self.jwks = jwks
        self.clock = clock
        self.max_token_length = max_token_length
        self.clock_skew = clock_skew_seconds

    def verify(
        self,
        token: str,
        *,
        check_expiry: bool = True,
        presentation: Presentation | None = None,
        check_sender: bool = True,
    ) -> AccessTokenClaims:
        """The token's claims, or ``InvalidToken``; ``JwksUnavailable`` when the keys cannot
        be loaded. ``check_expiry=False`` is for the issuer itself only: introspection and
        revocation (RFC 7662, RFC 7009) must still recognise an expired token they issued;
        so is ``check_sender=False`` (they look a token up, nobody uses it). A resource
        server passes the ``presentation`` (``kit.dpop.read_authorization``)."""
        if not isinstance(token, str) or not token or len(token) > self.max_token_length:
            raise InvalidToken("the access token is missing or too long")
        if _COMPACT_JWS.fullmatch(token) is None:
            raise InvalidToken("the access token is not a signed JWT")
        encoded_header, encoded_payload, _ = token.split(".")
        header = _json_object(encoded_header, "header")
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"access tokens must be signed with {ALGORITHM}")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token (typ must be at+jwt)")
        if "crit" in header:
            raise InvalidToken("the access token uses an unsupported critical extension")
        key = es256_public_key(find_key(self.jwks, header.get("kid"), ALGORITHM))
        if not _es256_signature_holds(key, token, len(encoded_header) + 1 + len(encoded_payload)):
            raise InvalidToken("the access token does not verify: the signature does not hold")
        claims = _json_object(encoded_payload, "payload")
        # RFC 9068 §4: the issuer exactly, and the audience among the token's. Times are
        # checked by _checked against the service's clock, not the host's.
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the access token does not verify: the issuer is not this one")
        audiences = claims.get("aud")
        listed = [audiences] if isinstance(audiences, str) else audiences
        if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
            raise InvalidToken("the access token does not verify: its audience is malformed")
        if self.audience not in listed:
            raise InvalidToken("the access token does not verify: it is for another audience")
        verified = self._checked(claims, check_expiry)
        jkt = bound_key(claims) if check_sender else None
        if check_sender:
            self._check_scheme(jkt, presentation)
        if self.revocation is not None and self.revocation.is_revoked(verified.token_id):
            raise InvalidToken("the access token has been revoked")
        if jkt is not None and presentation is not None:
            self._check_proof(token, jkt, presentation)
        return verified

    def _check_scheme(self, jkt: str | None, presentation: Presentation | None) -> None:
        scheme = presentation.scheme if presentation is not None else "bearer"
        if jkt is not None and scheme != "dpop":
            raise SenderConstraintFailed(
                "the access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof"
            )
        if jkt is None and scheme == "dpop":
            raise SenderConstraintFailed("the access token is not DPoP-bound: send it as a Bearer token")
        if jkt is not None and self.dpop is None:
            raise SenderConstraintFailed("DPoP-bound access tokens are not accepted here")

    def _check_proof(self, token: str, jkt: str, presentation: Presentation) -> None:
        assert self.dpop is not None  # _check_scheme refused a bound token without one
        now = self.clock()
        if presentation.multiple_proofs:
            raise SenderConstraintFailed("send exactly one DPoP proof", INVALID_DPOP_PROOF)
        try:
            proof = self.dpop.verify(
                presentation.proof,
                method=presentation.method,
                url=presentation.url,
                now=now,
                access_token=token,
            )
        except InvalidProof as exc:
            nonce = self.dpop.fresh_nonce(now) if exc.error != INVALID_DPOP_PROOF else None
            raise SenderConstraintFailed(str(exc), exc.error, nonce) from None
        if not hmac.compare_digest(proof.jkt, jkt):
            raise SenderConstraintFailed("the DPoP proof was signed with another key than the token's")

    def _checked(self, claims: dict[str, Any], check_expiry: bool) -> AccessTokenClaims:
        missing = [name for name in REQUIRED_CLAIMS if name not in claims]
        if missing:
            raise InvalidToken(f"the access token lacks {', '.join(missing)}")
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf")
        if not _number(exp) or not _number(iat) or (nbf is not None and not _number(nbf)):
            raise InvalidToken("the access token's times are not numbers")
        now = self.clock().timestamp()
        if check_expiry and exp <= now:
            raise InvalidToken("the access token has expired")
        if iat > now + self.clock_skew or (nbf is not None and nbf > now + self.clock_skew):
            raise InvalidToken("the access token is not valid yet")
        subject, client_id, jti = claims["sub"], claims["client_id"], claims["jti"]
        scope = claims.get("scope", "")
        if not all(isinstance(v, str) and v for v in (subject, client_id, jti)) or not isinstance(scope, str):
            raise InvalidToken("the access token's sub, client_id, jti or scope is malformed")
        audiences = claims["aud"]
        return AccessTokenClaims(
            issuer=claims["iss"],
            subject=subject,
            audiences=(audiences,) if isinstance(audiences, str) else tuple(audiences),
            client_id=client_id,
            expires_at=int(exp),
            issued_at=int(iat),
            token_id=jti,
            scopes=frozenset(scope.split()),
            raw=claims,
        )
