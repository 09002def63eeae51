"""The OpenID Provider as the forms hub sees it: HTTP only, as any department's system.

Discovery (OIDC Discovery 1.0 §4) and the JWKS are fetched over HTTP and cached; an ID
token (OIDC Core §3.1.3.7) or an RFC 9068 access token is verified locally with the key its
``kid`` names. Calls are synchronous (``httpx.Client``): handlers run in worker threads and
must hold no database transaction while they wait (on SQLite the provider, in the same
process, would need the write lock the waiting transaction holds).

Defended against: a discovery document naming another issuer (§4.3), ``alg: none`` and
algorithm confusion (only the algorithms listed are accepted and the key's type must match),
ID tokens for another client or replayed into another sign-in (``aud``, ``azp``, ``nonce``),
ID tokens paired with a substituted access token (``at_hash``), access tokens of other
resource servers (``aud``) and ID tokens used as access tokens (``typ`` must be ``at+jwt``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from jose import jwk, jwt
from jose.exceptions import JOSEError

ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30
JWKS_REFETCH_SECONDS = 5.0


class ProviderError(Exception):
    """The provider could not be reached or answered with an error; ``error`` is the OAuth
    error code when it sent one."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class InvalidToken(ValueError):
    pass


class ProviderClient:
    def __init__(self, issuer: str, http: httpx.Client, cache_seconds: float = 300.0) -> None:
        self.issuer = issuer
        self.http = http
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: dict[str, Any] = {}
        self._keys_fetched_at = 0.0

    # -- discovery and keys -------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < self.cache_seconds:
                return self._metadata[1]
        document = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if document.get("issuer") != self.issuer:
            raise ProviderError("the discovery document names another issuer")
        with self._lock:
            self._metadata = (time.monotonic(), document)
        return document

    def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach the provider: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ProviderError(f"the provider answered {response.status_code} for {url}")
        try:
            return response.json()
        except json.JSONDecodeError:
            raise ProviderError("the provider sent a malformed JSON document") from None

    def key(self, kid: str | None) -> Any:
        """The provider's published key named ``kid``; refetches the JWKS when the key is
        unknown (rotation) or the cache is old, at most once per JWKS_REFETCH_SECONDS."""
        now = time.monotonic()
        with self._lock:
            fresh = now - self._keys_fetched_at < self.cache_seconds
            if kid in self._keys and fresh:
                return self._keys[kid]
            may_refetch = now - self._keys_fetched_at >= JWKS_REFETCH_SECONDS
        if may_refetch:
            document = self._get_json(self.metadata()["jwks_uri"])
            keys = {}
            for entry in document.get("keys", []):
                if not isinstance(entry, dict) or "kid" not in entry or entry.get("use", "sig") != "sig":
                    continue
                alg = entry.get("alg") or ("ES256" if entry.get("kty") == "EC" else "RS256")
                try:
                    keys[entry["kid"]] = (alg, jwk.construct(entry, alg))
                except JOSEError:
                    continue
            with self._lock:
                self._keys, self._keys_fetched_at = keys, time.monotonic()
        with self._lock:
            if kid not in self._keys:
                raise InvalidToken("signed with a key the provider does not publish")
            return self._keys[kid]

    def _verified(self, token: str, algorithms: list[str], **checks: Any) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("not a compact JWT")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise InvalidToken("not a compact JWT") from None
        if header.get("alg") not in algorithms:
            raise InvalidToken("unexpected signing algorithm")
        key_alg, key = self.key(header.get("kid"))
        if key_alg != header["alg"]:
            raise InvalidToken("the key does not match the token's algorithm")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                issuer=self.issuer,
                options={"leeway": LEEWAY_SECONDS, "verify_aud": "audience" in checks},
                **checks,
            )
        except JOSEError as exc:
            raise InvalidToken(str(exc)) from None

    def verify_id_token(
        self, id_token: str, *, client_id: str, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        claims = self._verified(id_token, ID_TOKEN_ALGORITHMS, audience=client_id, access_token=access_token)
        if claims.get("nonce") != nonce:
            raise InvalidToken("the nonce does not match this sign-in")
        if isinstance(claims.get("aud"), list) and claims.get("azp") != client_id:
            raise InvalidToken("azp does not name this client")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("no subject")
        return claims

    def verify_access_token(self, token: str, audience: str) -> dict[str, Any]:
        """An RFC 9068 JWT access token issued by the provider for ``audience``."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("not a compact JWT")
        try:
            typ = jwt.get_unverified_header(token).get("typ")
        except JOSEError:
            raise InvalidToken("not a compact JWT") from None
        if typ not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token (typ must be at+jwt)")
        return self._verified(token, ["ES256"], audience=audience)

    # -- the authorization code flow ----------------------------------------------------

    def authorization_url(self, **params: str) -> str:
        endpoint = self.metadata()["authorization_endpoint"]
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    def _token_request(self, client_id: str, secret: str, data: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.http.post(
                self.metadata()["token_endpoint"],
                data=data,
                auth=(client_id, secret),  # client_secret_basic (RFC 6749 §2.3.1)
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach the token endpoint: {type(exc).__name__}") from None
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise ProviderError("the token endpoint sent malformed JSON") from None
        if response.status_code != 200 or "access_token" not in body:
            raise ProviderError(
                "the token request was refused", body.get("error") if isinstance(body, dict) else None
            )
        return body

    def exchange_code(
        self, *, client_id: str, secret: str, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        return self._token_request(
            client_id,
            secret,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
        )

    def refresh(self, *, client_id: str, secret: str, refresh_token: str) -> dict[str, Any]:
        return self._token_request(
            client_id, secret, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """Raises ProviderError with ``error="invalid_token"`` when the token is no longer
        accepted (expired, revoked): the caller may refresh it and try again."""
        try:
            response = self.http.get(
                self.metadata()["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach the userinfo endpoint: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise ProviderError("the access token was refused", "invalid_token")
        if response.status_code != 200:
            raise ProviderError(f"userinfo answered {response.status_code}")
        try:
            return response.json()
        except json.JSONDecodeError:
            raise ProviderError("userinfo sent malformed JSON") from None
