"""Clients' public keys for private_key_jwt, through the kernel's JWKS cache
(``kit.access_tokens``). Our own keys are identity.tokens.verifier's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import httpx
from joserfc.jwk import KeySet, KeySetSerialization

from identity.clients.models import Client
from kit.access_tokens import HttpJwks

CLIENT_JWKS_CACHE_SECONDS = 300.0
CLIENT_JWKS_TIMEOUT_SECONDS = 5.0
MAX_CLIENT_JWKS_SOURCES = 1024

_client_keys: dict[str, HttpJwks] = {}
_client_http = httpx.Client(timeout=CLIENT_JWKS_TIMEOUT_SECONDS)


def key_set(document: Mapping[str, Any]) -> KeySet:
    """A JWK Set document (a registration's ``jwks``, a fetched or published set) as
    joserfc's KeySet, which checks every key as it imports them."""
    return KeySet.import_key_set(cast(KeySetSerialization, document))


def client_keys(client: Client) -> KeySet:
    """The keys a client registered for private_key_jwt (RFC 7523 §2.2): inline, or fetched
    from its ``jwks_uri`` through the kernel's HTTP JWKS cache (bounded size and time, no
    redirects). Raises ``kit.access_tokens.JwksUnavailable`` when the URI gives no keys."""
    if client.jwks:
        return key_set(client.jwks)
    if not client.jwks_uri:
        raise ValueError("client has no registered keys")
    source = _client_keys.get(client.jwks_uri)
    if source is None:
        if len(_client_keys) >= MAX_CLIENT_JWKS_SOURCES:
            _client_keys.clear()  # URIs of clients since re-registered; the live ones refill it
        source = _client_keys.setdefault(
            client.jwks_uri,
            HttpJwks(
                client.jwks_uri,
                ttl_seconds=CLIENT_JWKS_CACHE_SECONDS,
                min_refresh_seconds=CLIENT_JWKS_CACHE_SECONDS,
                client=_client_http,
            ),
        )
    return key_set(source.keys())
