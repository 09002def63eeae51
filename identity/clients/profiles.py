"""Client profiles: a name for a set of requirements the provider enforces on a client.

``fapi2``, the FAPI 2.0 Security Profile (OpenID FAPI 2.0 final, §5.3, §5.4), as Singpass
requires of its relying parties. A client registered under it:
- must push its authorization requests (PAR, RFC 9126) and use PKCE with S256 (every client
  of ours must);
- authenticates with ``private_key_jwt`` (so it registers ``jwks`` or ``jwks_uri``);
- gets only sender-constrained tokens: DPoP (RFC 9449), a token request without a proof is
  refused;
- gets authorization codes valid FAPI2_CODE_TTL_SECONDS at most, and ID tokens signed with
  ES256 (FAPI 2.0 §5.4.1 rules RS256 out);
- cannot use CIBA's poll grant (not part of the profile).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

FAPI2 = "fapi2"
PROFILES = (FAPI2,)
FAPI2_CODE_TTL_SECONDS = 60
FAPI2_GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
MAX_RESOURCES = 20


class ProfiledRegistration(Protocol):
    """What ``problem`` reads of a registration (``identity.clients.service.Registration``)."""

    @property
    def profile(self) -> str | None: ...
    @property
    def token_endpoint_auth_method(self) -> str: ...
    @property
    def grant_types(self) -> tuple[str, ...]: ...
    @property
    def jwks(self) -> dict[str, Any] | None: ...
    @property
    def jwks_uri(self) -> str | None: ...
    @property
    def require_pushed_authorization_requests(self) -> bool: ...
    @property
    def dpop_bound_access_tokens(self) -> bool: ...
    @property
    def resources(self) -> tuple[str, ...]: ...


R = TypeVar("R")


def apply(registration: R) -> R:
    """The registration with what its profile switches on (a dataclass, copied)."""
    if getattr(registration, "profile", None) != FAPI2:
        return registration
    return dataclasses.replace(
        registration,  # type: ignore[type-var]
        require_pushed_authorization_requests=True,
        dpop_bound_access_tokens=True,
        id_token_signed_response_alg="ES256",
    )


def problem(registration: ProfiledRegistration) -> tuple[str, str] | None:
    """What makes the registration break its profile or the resource rules, as (field,
    message); None when it holds."""
    if len(registration.resources) > MAX_RESOURCES:
        return "resources", f"at most {MAX_RESOURCES}"
    for resource in registration.resources:
        if not is_resource_uri(resource):
            return "resources", f"{resource!r} must be an absolute https URI without query or fragment"
    if registration.profile is None:
        return None
    if registration.profile not in PROFILES:
        return "profile", f"one of {PROFILES}"
    if registration.token_endpoint_auth_method != "private_key_jwt":
        return "token_endpoint_auth_method", "the fapi2 profile needs private_key_jwt"
    if not (registration.jwks or registration.jwks_uri):
        return "jwks", "the fapi2 profile needs the client's keys (jwks or jwks_uri)"
    for grant in registration.grant_types:
        if grant not in FAPI2_GRANT_TYPES:
            return "grant_types", f"{grant!r} is not part of the fapi2 profile"
    if not (registration.require_pushed_authorization_requests and registration.dpop_bound_access_tokens):
        return "profile", "the fapi2 profile requires PAR and DPoP-bound tokens"
    return None


def is_resource_uri(value: str) -> bool:
    """A resource indicator a client may register (RFC 8707 §2): an absolute URI without
    query or fragment; https, or http on loopback for development."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.query or parts.fragment or "#" in value or not parts.netloc:
        return False
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    return parts.scheme == "https" or loopback


def default_auth_method(profile: str | None) -> str:
    return "private_key_jwt" if profile == FAPI2 else "client_secret_basic"


def code_ttl_seconds(client: Any, default: int) -> int:
    """How long the client's authorization codes live: the server's, at most 60 s under fapi2."""
    return min(default, FAPI2_CODE_TTL_SECONDS) if client.profile == FAPI2 else default


def enforced(client: Any, *, server_requires_par: bool = False) -> list[str]:
    """What the provider enforces on the client, in words (``egate clients show``)."""
    lines = ["PKCE with S256 on every authorization request"]
    if client.profile:
        lines.insert(0, f"profile {client.profile}")
    if client.require_pushed_authorization_requests or server_requires_par:
        scope = "" if client.require_pushed_authorization_requests else " (server-wide EGATE_REQUIRE_PAR)"
        lines.append("pushed authorization requests only (PAR, RFC 9126)" + scope)
    if client.require_signed_request_object:
        lines.append("signed request objects only (JAR, RFC 9101)")
    if client.dpop_bound_access_tokens:
        lines.append("DPoP-bound access tokens only: a token request without a DPoP proof is refused")
    method = client.token_endpoint_auth_method
    if method in ("client_secret_basic", "client_secret_post"):
        lines.append("client authentication: its secret, by client_secret_basic or client_secret_post")
    else:
        lines.append(f"client authentication: {method}")
    if client.profile == FAPI2:
        lines.append(f"authorization codes valid {FAPI2_CODE_TTL_SECONDS} s at most")
    lines.append(f"ID tokens signed with {client.id_token_signed_response_alg}")
    if client.resources:
        lines.append("resources it may name (RFC 8707): " + " ".join(client.resources))
    return lines
