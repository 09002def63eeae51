"""Signed request objects (JAR, RFC 9101): an authorization request carried as a JWT the
client signed with a key it registered (``jwks`` or ``jwks_uri``, fetched through the
outbound policy by ``identity.oidc.jwks_cache``), by value (``request``) at the
authorization endpoint or inside a pushed request (RFC 9126 §3).

Authlib's ``JWTAuthenticationRequest`` decodes the object and checks its signature with the
client's keys and the algorithms listed here, its ``client_id`` against the request's, and
that it nests no other request; this module adds what RFC 9101 §6.3, §10.8 and FAPI 2.0 ask
of the claims, so an object cannot be replayed to another server or kept for later:
- unsigned objects (``alg: none``) and MAC-signed ones are refused;
- ``typ``, when present, is ``oauth-authz-req+jwt`` (or ``JWT``): no other JWT of the
  client (a DPoP proof, a client assertion) passes for a request object;
- ``iss`` is the client, ``aud`` names this issuer;
- ``exp`` is required and in the future, at most MAX_LIFETIME_SECONDS away; ``nbf``, when
  present, is not in the future (CLOCK_SKEW_SECONDS) nor older than MAX_LIFETIME_SECONDS.
``request_uri`` other than our own pushed requests is not supported (no fetching).
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc9101 import JWTAuthenticationRequest
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from identity.oidc import jwks_cache
from identity.oidc.adapter import StarletteOAuth2Request, current
from identity.oidc.models import OAuthClient
from kit.access_tokens import JwksUnavailable
from kit.outbound import OutboundPolicy

ALGORITHMS = ["RS256", "PS256", "ES256"]
REQUEST_OBJECT_TYPES = ("oauth-authz-req+jwt", "jwt")
MAX_LIFETIME_SECONDS = 3600
CLOCK_SKEW_SECONDS = 30
# The JWT's own claims: they say who made it and for whom, they are not request parameters.
JWT_CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "jti")


class RequestObjects(JWTAuthenticationRequest):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, issuer: str, outbound: OutboundPolicy) -> None:
        super().__init__(support_request=True, support_request_uri=False)
        self.issuer = issuer
        self.outbound = outbound

    # -- what Authlib asks -----------------------------------------------------------------
    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        try:
            return jwks_cache.client_keys(client.row, self.outbound)
        except (jwks_cache.ClientKeysUnavailable, JwksUnavailable, JoseError, ValueError):
            raise InvalidRequestObjectError(
                description="The client's registered keys cannot be had to verify the request object."
            ) from None

    def get_server_metadata(self) -> dict[str, Any]:
        return {"request_object_signing_alg_values_supported": ALGORITHMS}

    def get_client_require_signed_request_object(self, client: OAuthClient) -> bool:
        return client.row.require_signed_request_object

    def get_request_object_signing_algorithms(self, client: OAuthClient) -> list[str]:
        return list(ALGORITHMS)

    # -- ours ------------------------------------------------------------------------------
    def parameters(self, server: Any, oauth_req: StarletteOAuth2Request) -> list[tuple[str, str]]:
        """The authorization parameters of the request's ``request`` object, verified (see
        the module's docstring), as name/value pairs; raises an OAuth error otherwise."""
        raw = oauth_req.payload.data.get("request", "")
        self._check_type(raw)
        original = oauth_req.payload
        try:
            self.parse_authorization_request(server, oauth_req)
            claims: dict[str, Any] = dict(oauth_req.payload.data)
        finally:
            oauth_req.payload = original
        self._check_claims(claims, oauth_req.payload.data.get("client_id"))
        return as_parameters(claims)

    @staticmethod
    def _check_type(raw: str) -> None:
        try:
            header = jws.extract_compact(raw.encode()).protected
        except (JoseError, ValueError, TypeError):
            raise InvalidRequestObjectError(description="The request object is not a signed JWT.") from None
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in REQUEST_OBJECT_TYPES:
            raise InvalidRequestObjectError(description="The request object typ must be oauth-authz-req+jwt.")

    def _check_claims(self, claims: dict[str, Any], client_id: str | None) -> None:
        now = current.get().now.timestamp()
        if claims.get("iss") != client_id:
            raise InvalidRequestObjectError(description="The request object's iss must be the client_id.")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.issuer not in audiences:
            raise InvalidRequestObjectError(description="The request object's aud must name this issuer.")
        exp: Any = claims.get("exp")
        nbf: Any = claims.get("nbf")
        if not _number(exp) or exp <= now or exp > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise InvalidRequestObjectError(
                description="The request object's exp is missing, past, or more than an hour away."
            )
        if nbf is not None and (
            not _number(nbf) or nbf > now + CLOCK_SKEW_SECONDS or nbf < now - MAX_LIFETIME_SECONDS
        ):
            raise InvalidRequestObjectError(description="The request object's nbf is not acceptable.")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_parameters(claims: dict[str, Any]) -> list[tuple[str, str]]:
    """A request object's claims as request parameters (RFC 9101 §4): strings as they are,
    numbers in decimal, JSON values (``claims``) as JSON; a list of strings (``resource``)
    as the parameter repeated."""
    pairs: list[tuple[str, str]] = []
    for name, value in claims.items():
        if name in JWT_CLAIMS or value is None:
            continue
        if isinstance(value, str):
            pairs.append((name, value))
        elif isinstance(value, list) and name == "resource" and all(isinstance(v, str) for v in value):
            pairs.extend((name, v) for v in value)
        elif isinstance(value, bool):
            raise InvalidRequestError(f"The request object's {name} has an unexpected type.")
        elif isinstance(value, int | float):
            pairs.append((name, str(value)))
        else:
            pairs.append((name, json.dumps(value, separators=(",", ":"))))
    return pairs
