from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ClientRegistrationRequest(BaseModel):
    """Fields follow RFC 7591 §2 / OIDC Dynamic Client Registration names where they exist."""

    client_name: str = Field(max_length=200)
    client_name_zh: str | None = Field(default=None, max_length=200)
    department: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[Literal["authorization_code", "refresh_token", "client_credentials"]] = [
        "authorization_code",
        "refresh_token",
    ]
    scope: str = Field(default="openid profile", max_length=500)
    token_endpoint_auth_method: Literal[
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
    ] = "client_secret_basic"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = Field(default=None, max_length=500)
    subject_type: Literal["pairwise", "public"] = "pairwise"
    id_token_signed_response_alg: Literal["RS256", "ES256"] = "RS256"
    purpose: str | None = Field(default=None, max_length=1000)
    purpose_zh: str | None = Field(default=None, max_length=1000)
    legal_basis: str | None = Field(default=None, max_length=500)
    require_per_request_consent: bool = False
    audit_system: bool = Field(
        default=False, description="its client_credentials tokens may read the ledger as an auditor"
    )
    client_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    # FAPI 2.0 (identity/clients/profiles.py), RFC 9126 §6, RFC 9449 §5.2, RFC 9101 §10.5,
    # RFC 8707: fapi2 switches PAR and DPoP on and defaults the auth method to private_key_jwt.
    profile: Literal["fapi2"] | None = None
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    require_signed_request_object: bool = False
    resources: list[str] = Field(default_factory=list, max_length=20)


class ClientRegistrationResponse(BaseModel):
    client_id: str
    client_secret: str | None = None
    client_name: str
    department: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scope: str
    token_endpoint_auth_method: str
    subject_type: str
    id_token_signed_response_alg: str
    audit_system: bool
    profile: str | None = None
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    require_signed_request_object: bool = False
    resources: list[str] = Field(default_factory=list)
