"""Resource indicators (RFC 8707): a client names the resource servers its access token is
for, and the token's ``aud`` says exactly those.

A client may name the resources it registered (``Client.resources``) and the gateway's own
resource servers (userinfo, the consent API, the forms hub); anything else is
``invalid_target`` (RFC 8707 §2). Without ``resource`` the audience is the gateway's own, as
it always was. What the authorization request named is kept with the code; the token
request may narrow it (§2.2), never widen it. A refresh token remembers what its grant
named, so a refresh may narrow it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationCodeGrant

from identity.clients.models import Client
from identity.oidc.tokens import resource_audiences

MAX_RESOURCES = 10


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]  # Authlib ships no types
    """RFC 8707 §2: the resource is invalid, unknown, or not one this client may ask for."""

    error = "invalid_target"
    status_code = 400


def _well_formed(resource: str) -> bool:
    """RFC 8707 §2: an absolute URI without a fragment (a query is discouraged; refused)."""
    try:
        parts = urlsplit(resource)
    except ValueError:
        return False
    absolute = bool(parts.scheme and parts.netloc)
    return absolute and not parts.fragment and not parts.query and "#" not in resource


def permitted(client: Client, issuer: str) -> set[str]:
    return {*(client.resources or []), *resource_audiences(issuer)}


def checked(requested: Iterable[str], allowed: set[str], redirect_uri: str | None = None) -> tuple[str, ...]:
    """The requested resources, each well formed and allowed; else ``invalid_target``."""
    values = tuple(dict.fromkeys(requested))
    if len(values) > MAX_RESOURCES:
        raise InvalidTargetError(f"At most {MAX_RESOURCES} resources.", redirect_uri=redirect_uri)
    for value in values:
        if not _well_formed(value):
            raise InvalidTargetError(
                "A resource must be an absolute URI without query or fragment.", redirect_uri=redirect_uri
            )
        if value not in allowed:
            raise InvalidTargetError(
                "The resource is not registered for this client.", redirect_uri=redirect_uri
            )
    return values


def token_audience(
    client: Client, issuer: str, requested: Sequence[str], granted: Sequence[str] | None
) -> list[str] | None:
    """The ``aud`` of the access token to issue (None: the gateway's own, the default).
    ``granted``: what the code or the refresh token's grant named (None: nothing)."""
    allowed = set(granted) if granted else permitted(client, issuer)
    chosen = checked(requested, allowed) or tuple(granted or ())
    return list(chosen) or None


class ResourceIndicators:
    """An Authlib extension of the code grant: ``resource`` at the authorization endpoint is
    checked with the rest of the request, and an error goes back to the verified redirect
    URI (RFC 8707 §2)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def __call__(self, grant: AuthorizationCodeGrant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        requested = grant.request.payload.datalist.get("resource") or []
        client: Client = grant.request.client.row
        checked(requested, permitted(client, self.issuer), redirect_uri)
