from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA, IAL_IN_PERSON, IAL_REMOTE, IAL_SELF_ASSERTED

IdentityLevel = Literal["self_asserted", "remote", "in_person"]
AcrValue = Literal["urn:egate:acr:basic", "urn:egate:acr:mfa", "urn:egate:acr:device"]
MIN_IDENTITY_LEVEL = (
    "The least identity-assurance level a resident must have to be signed in to this client:"
    f" {IAL_SELF_ASSERTED} (typed in at enrolment), {IAL_REMOTE} (identity card image checked by a"
    f" registration officer) or {IAL_IN_PERSON} (identity card checked at a counter). A resident"
    " below it is shown an explanation and the client receives the authorization error"
    " unmet_authentication_requirements (OpenID Connect Core Unmet Authentication Requirements 1.0)."
)
MIN_ACR = (
    "The least authentication level (acr) of every sign-in to this client, a floor under the"
    f" acr_values a request asks: {ACR_BASIC} (password), {ACR_MFA} (password and a one-time"
    f" code) or {ACR_DEVICE} (approved in the e-Gateway app). A resident who cannot reach it gets"
    " the same explanation and error."
)
CibaGrant = Literal["urn:openid:params:grant-type:ciba"]


class ClientRegistrationRequest(BaseModel):
    """Fields follow RFC 7591 §2 / OIDC Dynamic Client Registration names where they exist."""

    client_name: str = Field(max_length=200)
    client_name_zh: str | None = Field(default=None, max_length=200)
    department: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[Literal["authorization_code", "refresh_token", "client_credentials", CibaGrant]] = [
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
    min_identity_level: IdentityLevel | None = Field(default=None, description=MIN_IDENTITY_LEVEL)
    min_acr: AcrValue | None = Field(default=None, description=MIN_ACR)
    backchannel_logout_uri: str | None = Field(
        default=None, max_length=500, description="OpenID Connect Back-Channel Logout 1.0 §2.2"
    )
    backchannel_logout_session_required: bool = False
    backchannel_token_delivery_mode: Literal["poll", "ping"] | None = Field(
        default=None, description="CIBA §4; poll when the CIBA grant is registered without one"
    )
    backchannel_client_notification_endpoint: str | None = Field(
        default=None, max_length=500, description="CIBA §4: where ping mode notifies the client"
    )
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
    min_identity_level: str | None = Field(default=None, description=MIN_IDENTITY_LEVEL)
    min_acr: str | None = Field(default=None, description=MIN_ACR)
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    backchannel_token_delivery_mode: str | None = None
    backchannel_client_notification_endpoint: str | None = None
    profile: str | None = None
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    require_signed_request_object: bool = False
    resources: list[str] = Field(default_factory=list)
