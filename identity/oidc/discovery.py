"""OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), served as well as
authorization server metadata (RFC 8414 §3) with the same issuer: every value listed is one
the provider really supports (tests/e2e/test_discovery_is_true.py walks them all). What is
not supported is left out rather than listed empty."""

from __future__ import annotations

from typing import Any

from identity import claims
from identity.assurance import ACR_VALUES_SUPPORTED
from identity.clients.service import API_SCOPES, CIBA_GRANT_TYPE, OIDC_SCOPES
from identity.oidc.request_objects import ALGORITHMS as REQUEST_OBJECT_ALGORITHMS
from identity.oidc.server import ASSERTION_ALGORITHMS, CONFIDENTIAL_AUTH_METHODS
from identity.proofing.verified import (
    CHECK_METHODS,
    CLAIMS_IN_VERIFIED_CLAIMS,
    DOCUMENT_TYPES,
    EVIDENCE_TYPE,
    TRUST_FRAMEWORK,
)
from kit.dpop import ALGORITHMS as DPOP_ALGORITHMS


def metadata(issuer: str, *, require_par: bool = False) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        # OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry sid and sub.
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "scopes_supported": [*OIDC_SCOPES, *API_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            CIBA_GRANT_TYPE,
        ],
        # OpenID Connect CIBA (poll and ping modes): a department back-end asks the resident's app.
        "backchannel_authentication_endpoint": f"{issuer}/bc-authorize",
        "backchannel_token_delivery_modes_supported": ["poll", "ping"],
        "backchannel_user_code_parameter_supported": False,
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": [*CONFIDENTIAL_AUTH_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        # RFC 8414 §2: private_key_jwt is taken at revocation and introspection too.
        "revocation_endpoint_auth_methods_supported": [*CONFIDENTIAL_AUTH_METHODS, "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "at_hash",
            "sid",
            *claims.ALL_RESIDENT_CLAIMS,
            "verified_claims",
        ],
        "claims_parameter_supported": True,
        # OpenID Connect for Identity Assurance 1.0 §7: proofed data as ``verified_claims``.
        "verified_claims_supported": True,
        "trust_frameworks_supported": [TRUST_FRAMEWORK],
        "evidence_supported": [EVIDENCE_TYPE],
        "documents_supported": list(DOCUMENT_TYPES),
        "documents_check_methods_supported": list(CHECK_METHODS),
        "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS),
        "request_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["en", "zh-HK"],
        "claims_locales_supported": ["en", "zh-HK"],
        "authorization_response_iss_parameter_supported": True,
        "access_token_signing_alg_values_supported": ["ES256"],
        # FAPI 2.0 pieces: PAR (RFC 9126 §5), DPoP (RFC 9449 §5.1), JAR (RFC 9101 §10.1).
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": require_par,
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "request_object_signing_alg_values_supported": REQUEST_OBJECT_ALGORITHMS,
        "require_signed_request_object": False,
    }
