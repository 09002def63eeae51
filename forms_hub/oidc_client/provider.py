"""The OpenID Provider as the forms hub sees it: HTTP only, as any department's system.

Discovery (OIDC Discovery 1.0 §4) is fetched over HTTP and cached; the JWKS it names is the
kernel's ``HttpJwks`` (cached, refetched for an unknown ``kid``). ID tokens (OIDC Core
§3.1.3.7) are verified here with the key their ``kid`` names; RFC 9068 access tokens are
verified by the kernel's ``AccessTokenVerifier`` over the same JWKS (``forms_hub.access``).
Calls are synchronous (``httpx.Client``): handlers run in worker threads and must hold no
database transaction while they wait (on SQLite the provider, in the same process, would
need the write lock the waiting transaction holds).

Defended against: a discovery document naming another issuer (§4.3), ``alg: none`` and
algorithm confusion (only the algorithms listed are accepted and the key's type must match,
``kit.access_tokens.find_key``), ID tokens for another client or replayed into another
sign-in (``aud``, ``azp``, ``nonce``), ID tokens paired with a substituted access token
(``at_hash``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from jose import jwt
from jose.exceptions import JOSEError

from kit.access_tokens import MAX_TOKEN_LENGTH, HttpJwks, InvalidToken, JwksUnavailable, find_key

ID_TOKEN_ALGORITHMS = ["RS256", "ES256"]
LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY_SECONDS = 30
JWKS_REFETCH_SECONDS = 5.0

__all__ = ["InvalidToken", "ProviderClient", "ProviderError"]


class ProviderError(Exception):
    """The provider could not be reached or answered with an error; ``error`` is the OAuth
    error code when it sent one."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class ProviderClient:
    def __init__(self, issuer: str, http: httpx.Client, cache_seconds: float = 300.0) -> None:
        self.issuer = issuer
        self.http = http
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: HttpJwks | None = None

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
            document: dict[str, Any] = response.json()
        except json.JSONDecodeError:
            raise ProviderError("the provider sent a malformed JSON document") from None
        return document

    def jwks(self) -> HttpJwks:
        """The provider's JWK Set at the ``jwks_uri`` its discovery document names."""
        if self._jwks is None:
            jwks_uri = self.metadata()["jwks_uri"]
            with self._lock:
                if self._jwks is None:
                    self._jwks = HttpJwks(
                        jwks_uri,
                        ttl_seconds=self.cache_seconds,
                        min_refresh_seconds=JWKS_REFETCH_SECONDS,
                        client=self.http,
                    )
        return self._jwks

    def _verified(self, token: str, algorithms: list[str], **checks: Any) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("not a compact JWT")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise InvalidToken("not a compact JWT") from None
        if header.get("alg") not in algorithms:
            raise InvalidToken("unexpected signing algorithm")
        try:
            key = find_key(self.jwks(), header.get("kid"), header["alg"])
        except JwksUnavailable as exc:
            raise ProviderError(f"cannot fetch the provider's keys: {exc}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                issuer=self.issuer,
                options={"leeway": LEEWAY_SECONDS, "verify_aud": "audience" in checks},
                **checks,
            )
        except JOSEError as exc:
            raise InvalidToken(str(exc)) from None
        return claims

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

    def verify_logout_token(self, logout_token: str, *, client_id: str, now: float) -> dict[str, Any]:
        """OpenID Connect Back-Channel Logout 1.0 §2.6: signed by the provider (the JWKS, as
        ID tokens), ``iss``, ``aud``, ``iat`` and ``exp``, explicitly typed ``logout+jwt`` (so
        an ID token cannot be passed off as one), the back-channel logout event, a ``sid`` or
        a ``sub``, a ``jti`` (the caller refuses one seen before), and no ``nonce``."""
        claims = self._verified(logout_token, ID_TOKEN_ALGORITHMS, audience=client_id)
        if jwt.get_unverified_header(logout_token).get("typ") != LOGOUT_TOKEN_TYPE:
            raise InvalidToken("not a logout token (typ)")
        if "nonce" in claims:
            raise InvalidToken("a logout token carries no nonce")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + LEEWAY_SECONDS:
            raise InvalidToken("iat and exp are required, iat not in the future")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise InvalidToken("no back-channel logout event")
        sid, sub = claims.get("sid"), claims.get("sub")
        if sid is None and sub is None:
            raise InvalidToken("neither sid nor sub")
        if not all(
            value is None or (isinstance(value, str) and 0 < len(value) <= 64) for value in (sid, sub)
        ):
            raise InvalidToken("sid or sub is malformed")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise InvalidToken("no jti")
        return claims

    # -- the authorization code flow ----------------------------------------------------

    def authorization_url(self, params: dict[str, str], *, secret: str) -> str:
        """Where the browser goes to sign in. When the provider has a PAR endpoint the
        request is pushed there first (RFC 9126, with the hub's client_secret_basic) and the
        browser carries only ``client_id`` and the ``request_uri`` (and ``ui_locales``, for
        the provider's pages): nothing the hub asks, such as its ``claims``, in the
        resident's address bar, and a provider requiring PAR (EGATE_REQUIRE_PAR) signs
        residents in to the hub too. Raises ProviderError when the push is refused."""
        metadata = self.metadata()
        endpoint: str = metadata["authorization_endpoint"]
        par_endpoint = metadata.get("pushed_authorization_request_endpoint")
        if isinstance(par_endpoint, str) and par_endpoint:
            client_id = params["client_id"]
            request_uri = self._push(par_endpoint, client_id, secret, params)
            front = {"client_id": client_id, "request_uri": request_uri}
            if "ui_locales" in params:
                front["ui_locales"] = params["ui_locales"]
            params = front
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    def _push(self, endpoint: str, client_id: str, secret: str, params: dict[str, str]) -> str:
        try:
            response = self.http.post(
                endpoint, data=params, auth=(client_id, secret), headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach the PAR endpoint: {type(exc).__name__}") from None
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise ProviderError("the PAR endpoint sent malformed JSON") from None
        request_uri = body.get("request_uri") if isinstance(body, dict) else None
        if response.status_code != 201 or not isinstance(request_uri, str) or not request_uri:
            error = body.get("error") if isinstance(body, dict) else None
            raise ProviderError("the pushed authorization request was refused", error)
        return request_uri

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
            body: dict[str, Any] = response.json()
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
            userinfo: dict[str, Any] = response.json()
        except json.JSONDecodeError:
            raise ProviderError("userinfo sent malformed JSON") from None
        return userinfo
