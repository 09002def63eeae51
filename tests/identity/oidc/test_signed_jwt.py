"""The provider's own JWS signing (identity/oidc/tokens.py signed_jwt), checked by an
independent verifier (joserfc) for each algorithm a signing key may have."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from identity.keys.service import ActiveKey
from identity.oidc.tokens import signed_jwt

CLAIMS = {"iss": "https://id.example", "sub": "resident-1", "name#zh-HK": "陳大文", "amr": ["pwd"]}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(ActiveKey("es-1", "ES256", ECKey.generate_key("P-256")), id="ES256"),
        pytest.param(ActiveKey("rs-1", "RS256", RSAKey.generate_key(2048)), id="RS256"),
    ],
)
def test_a_signed_jwt_verifies_with_its_key_and_says_which(key):
    token = jwt.decode(signed_jwt({"typ": "at+jwt"}, CLAIMS, key), key.key, algorithms=[key.alg])
    assert token.header == {"typ": "at+jwt", "alg": key.alg, "kid": key.kid}
    assert token.claims == CLAIMS


def test_a_key_of_another_type_than_its_algorithm_signs_nothing():
    with pytest.raises(ValueError, match="no RS256 signing"):
        signed_jwt({"typ": "JWT"}, CLAIMS, ActiveKey("odd", "RS256", ECKey.generate_key("P-256")))


def test_the_header_cannot_override_the_keys_algorithm():
    key = ActiveKey("es-1", "ES256", ECKey.generate_key("P-256"))
    token = signed_jwt({"typ": "JWT", "alg": "none", "kid": "other"}, CLAIMS, key)
    assert jwt.decode(token, key.key, algorithms=["ES256"]).header["kid"] == "es-1"
