"""What the protocol endpoints take and answer, for the OpenAPI document.

The endpoints parse their own form-encoded bodies and query strings (Authlib reads them),
so the requests are described here as OpenAPI request bodies and parameters rather than
as FastAPI parameters; the answers are Pydantic models used as ``response_model``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FORM = "application/x-www-form-urlencoded"


class ProviderMetadata(BaseModel):
    """OpenID Connect Discovery 1.0 §3 and RFC 8414 §2; only the members every provider
    must publish are listed, the document has many more."""

    model_config = ConfigDict(extra="allow")
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]


class JsonWebKeySet(BaseModel):
    """RFC 7517 §5: the public keys ID tokens and JWT access tokens are signed with."""

    keys: list[dict[str, Any]]


class TokenResponse(BaseModel):
    """RFC 6749 §5.1, with OpenID Connect Core §3.1.3.3's ``id_token``."""

    model_config = ConfigDict(extra="allow")
    access_token: str
    token_type: str = Field(description="Bearer, or DPoP for a DPoP-bound token")
    expires_in: int | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str | None = None


class PushedAuthorizationResponse(BaseModel):
    """RFC 9126 §2.2: what stands for the pushed request at the authorization endpoint."""

    request_uri: str
    expires_in: int


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2: only ``active`` for a token that is not active."""

    model_config = ConfigDict(extra="allow")
    active: bool


class BackchannelAuthenticationResponse(BaseModel):
    """OpenID Connect CIBA §7.3."""

    auth_req_id: str
    expires_in: int
    interval: int


class UserInfo(BaseModel):
    """OpenID Connect Core §5.3.2: ``sub`` and the claims the resident released."""

    model_config = ConfigDict(extra="allow")
    sub: str
    verified_claims: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "OpenID Connect for Identity Assurance 1.0: the claims a registration officer checked"
            " against the identity card, with their verification (trust_framework hk_egate,"
            " assurance_level remote or in_person, evidence). Only when the claims parameter asked"
            " for them in userinfo, the resident released them and their proofing meets the request;"
            " never for a self-asserted resident."
        ),
    )


def _strings(*names: str) -> dict[str, Any]:
    return {name: {"type": "string"} for name in names}


CLIENT_AUTHENTICATION = _strings("client_id", "client_secret", "client_assertion_type", "client_assertion")

AUTHORIZATION_PARAMETERS = {
    "response_type": {"type": "string", "enum": ["code"]},
    "client_id": {"type": "string"},
    "redirect_uri": {"type": "string"},
    "scope": {"type": "string"},
    "state": {"type": "string"},
    "nonce": {"type": "string"},
    "code_challenge": {"type": "string"},
    "code_challenge_method": {"type": "string", "enum": ["S256"]},
    "response_mode": {"type": "string", "enum": ["query", "form_post"]},
    "prompt": {"type": "string"},
    "max_age": {"type": "string"},
    "acr_values": {"type": "string"},
    "claims": {"type": "string", "description": "OpenID Connect Core §5.5, as JSON"},
    "login_hint": {"type": "string"},
    "ui_locales": {"type": "string"},
    "request": {"type": "string", "description": "A signed request object (RFC 9101)"},
    "request_uri": {"type": "string"},
    "resource": {"type": "string", "description": "RFC 8707"},
    "dpop_jkt": {"type": "string", "description": "RFC 9449 §10: the DPoP key the code is bound to"},
}

TOKEN_REQUEST = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {
            "type": "string",
            "enum": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:openid:params:grant-type:ciba",
            ],
        },
        **_strings(
            "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "resource", "auth_req_id"
        ),
        **CLIENT_AUTHENTICATION,
    },
}
TOKEN_REQUEST_BODY = {"requestBody": {"required": True, "content": {FORM: {"schema": TOKEN_REQUEST}}}}


def form_body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}


REVOCATION_BODY = form_body(
    ["token"],
    {**_strings("token"), "token_type_hint": {"type": "string"}, **CLIENT_AUTHENTICATION},
)
INTROSPECTION_BODY = REVOCATION_BODY
# RFC 6750 §2.2 (OIDC Core §5.3.1): the token may come in the body instead of the header.
USERINFO_BODY = {
    "requestBody": {
        "required": False,
        "content": {FORM: {"schema": {"type": "object", "properties": _strings("access_token")}}},
    }
}
BACKCHANNEL_BODY = form_body(
    ["scope"],
    {
        **_strings("scope", "login_hint", "binding_message", "requested_expiry", "client_notification_token"),
        **CLIENT_AUTHENTICATION,
    },
)
AUTHORIZATION_QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in AUTHORIZATION_PARAMETERS.items()
    ]
}
AUTHORIZATION_BODY = form_body([], AUTHORIZATION_PARAMETERS)
LOGOUT_PARAMETERS = _strings("id_token_hint", "post_logout_redirect_uri", "client_id", "state", "ui_locales")
LOGOUT_QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in LOGOUT_PARAMETERS.items()
    ]
}
LOGOUT_BODY = form_body([], LOGOUT_PARAMETERS)
PUSHED_AUTHORIZATION_BODY = form_body(
    [],
    {
        **{name: schema for name, schema in AUTHORIZATION_PARAMETERS.items() if name != "request_uri"},
        **CLIENT_AUTHENTICATION,
    },
)
