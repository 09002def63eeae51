"""Clients' public keys for private_key_jwt, through the kernel's JWKS cache
(``kit.access_tokens``). Our own keys are identity.tokens.verifier's.

A ``jwks_uri`` is fetched on behalf of an anonymous request (any ``/token`` request with a
``client_assertion`` naming the client), so it is a server-side request forgery vector: the
URL goes through ``kit.outbound``'s address policy before every fetch (public https only,
checked again at fetch time against DNS rebinding), and a failed fetch is remembered for
CLIENT_JWKS_RETRY_SECONDS so that repeating the request does not repeat the fetch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from identity.clients.models import Client
from kit.access_tokens import HttpJwks, JwksUnavailable
from kit.outbound import OutboundPolicy, guarded_client

CLIENT_JWKS_CACHE_SECONDS = 300.0
CLIENT_JWKS_RETRY_SECONDS = 30.0
CLIENT_JWKS_TIMEOUT_SECONDS = 3.0
CLIENT_JWKS_TOTAL_SECONDS = 5.0
MAX_CLIENT_JWKS_SOURCES = 1024

_client_keys: dict[tuple[str, OutboundPolicy], HttpJwks] = {}
_client_http = guarded_client(CLIENT_JWKS_TIMEOUT_SECONDS)


class ClientKeysUnavailable(Exception):
    """The client has no usable keys: none registered, its ``jwks_uri`` refused or failing,
    or a key set that does not import. The message is for logs, not for the caller."""


def key_set(document: Mapping[str, Any]) -> KeySet:
    """A JWK Set document (a registration's ``jwks``, a fetched or published set) as
    joserfc's KeySet, which checks every key as it imports them."""
    return KeySet.import_key_set(cast(KeySetSerialization, document))


def client_keys(client: Client, policy: OutboundPolicy) -> KeySet:
    """The keys a client registered for private_key_jwt (RFC 7523 §2.2): inline, or fetched
    from its ``jwks_uri`` under ``policy`` through the kernel's HTTP JWKS cache (bounded
    size and time, no redirects). Raises ``ClientKeysUnavailable``."""
    try:
        if client.jwks:
            return key_set(client.jwks)
        if not client.jwks_uri:
            raise ClientKeysUnavailable("the client has no registered keys")
        return key_set(_source(client.jwks_uri, policy).keys())
    except (JwksUnavailable, JoseError, ValueError, TypeError) as exc:
        raise ClientKeysUnavailable(str(exc)) from None


def _source(jwks_uri: str, policy: OutboundPolicy) -> HttpJwks:
    key = (jwks_uri, policy)
    source = _client_keys.get(key)
    if source is None:
        if len(_client_keys) >= MAX_CLIENT_JWKS_SOURCES:
            _client_keys.clear()  # URIs of clients since re-registered; the live ones refill it
        source = _client_keys.setdefault(
            key,
            HttpJwks(
                jwks_uri,
                ttl_seconds=CLIENT_JWKS_CACHE_SECONDS,
                min_refresh_seconds=CLIENT_JWKS_RETRY_SECONDS,
                client=_client_http,
                total_timeout_seconds=CLIENT_JWKS_TOTAL_SECONDS,
                address_policy=policy,
            ),
        )
    return source
