"""How a department integrates: requests-oauthlib for the protocol, python-jose for tokens.
Nothing here imports the provider's code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from jose import jwt as jose_jwt
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import REDIRECT_URI, form_fields


@dataclass
class Department:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str = REDIRECT_URI

    @property
    def metadata(self) -> dict[str, Any]:
        return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()

    def session(self, scope: str = "openid profile") -> OAuth2Session:
        return OAuth2Session(self.client_id, redirect_uri=self.redirect_uri, scope=scope.split(), pkce="S256")

    def start(self, oauth: OAuth2Session, **extra: str) -> tuple[str, str]:
        nonce = secrets.token_urlsafe(12)
        url, _state = oauth.authorization_url(self.metadata["authorization_endpoint"], nonce=nonce, **extra)
        return url, nonce

    def exchange(self, oauth: OAuth2Session, callback_url: str) -> dict[str, Any]:
        return oauth.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=callback_url,
            client_secret=self.client_secret,
            include_client_id=False,  # client_secret_basic
        )

    def jwks(self) -> dict[str, Any]:
        return requests.get(self.metadata["jwks_uri"], timeout=10).json()

    def key_for(self, token: str) -> dict[str, Any]:
        """The published key named by the token's ``kid``, as any JOSE client selects it."""
        kid = jose_jwt.get_unverified_header(token)["kid"]
        return next(key for key in self.jwks()["keys"] if key["kid"] == kid)

    def verify_id_token(self, id_token: str, access_token: str | None, nonce: str) -> dict[str, Any]:
        claims = jose_jwt.decode(
            id_token,
            self.key_for(id_token),
            algorithms=["RS256", "ES256"],
            audience=self.client_id,
            issuer=self.issuer,
            access_token=access_token,
        )
        assert claims["nonce"] == nonce
        return claims

    def verify_access_token(self, access_token: str) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(access_token)
        assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
        return jose_jwt.decode(
            access_token,
            self.key_for(access_token),
            algorithms=["ES256"],
            audience=self.issuer,
            issuer=self.issuer,
        )


def follow_to_callback(
    browser: requests.Session, url: str, *, approve: bool = True, remember: bool = True
) -> str:
    """Play the resident's browser: through the consent page (if shown) to the redirect URI."""
    response = browser.get(url, allow_redirects=False, timeout=10)
    if response.status_code == 200 and 'name="decision"' in response.text:
        fields = form_fields(response.text)
        fields["decision"] = "approve" if approve else "deny"
        if remember:
            fields["remember"] = "yes"
        else:
            fields.pop("remember", None)
        response = browser.post(
            urlsplit(url)._replace(path="/authorize/consent", query="").geturl(),
            data=fields,
            allow_redirects=False,
            timeout=10,
        )
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return response.headers["location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
