"""Authlib's model interfaces (ClientMixin, AuthorizationCodeMixin, TokenMixin) over our rows.

Protocol code asks these; the rows stay plain storage (STYLE.md: Authlib's ClientMixin style).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

from identity.clients.models import Client
from identity.clients.service import check_secret
from identity.tokens.models import CodeView, TokenView

SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def _without_port(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        return None
    return parts._replace(netloc="127.0.0.1").geturl()


class OAuthClient(ClientMixin):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, row: Client, master_key: bytes) -> None:
        self.row = row
        self._master_key = master_key

    @property
    def client_id(self) -> str:
        return self.row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC requires redirect_uri on every request: no default, so a missing one is an
        # error page rather than a redirect to a guessed address.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.row.allowed_scopes)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.row.redirect_uris:  # exact string match (RFC 9700 §4.1.3)
            return True
        # RFC 8252 §7.3: a native app's loopback redirect may use any port.
        return self.row.client_type == "public" and _without_port(redirect_uri) in {
            _without_port(uri) for uri in self.row.redirect_uris if uri.startswith("http://127.0.0.1")
        }

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(self._master_key, self.row.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """The registered method; a client with a secret may send it either way (HTTP Basic
        or in the form, RFC 6749 §2.3.1): libraries differ in their default (openid-client
        posts it, Authlib and pyoidc use Basic), and the secret is the same secret."""
        registered = self.row.token_endpoint_auth_method
        if registered in SECRET_METHODS:
            return method in SECRET_METHODS
        return method == registered

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


class CodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, row: CodeView) -> None:
        self.row = row

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr)


class TokenRecord(TokenMixin):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, row: TokenView, now: datetime, *, account_active: bool | None = None) -> None:
        self.row = row
        self._now = now
        # Read with the token (``find_token``): whether the account it was issued for is
        # active (True for a client's own token); None where it was not read.
        self.account_active = account_active

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - self.row.issued_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= self._now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> str | None:
        return self.row.account_id

    def get_client(self) -> ClientMixin:  # pragma: no cover - Authlib does not call it here
        raise NotImplementedError
