"""The provider's Authlib AuthorizationServer: grants, PKCE, client authentication,
revocation and introspection wired to our storage.

Authlib does the protocol (RFC 6749, 7636, 7009, 7662, 7523, OIDC Core); this module answers
its questions from the database of the current request (``adapter.current``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    AuthorizationServer,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6749.grants.base import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError
from authlib.oidc.core.grants import OpenIDCode
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session
from starlette.responses import Response

from identity.accounts import repository as accounts_repository
from identity.assurance import ACR_DEVICE, AMR_SOFTWARE_KEY, ial_satisfies
from identity.clients.cache import ClientCache
from identity.clients.models import Client
from identity.clients.profiles import code_ttl_seconds
from identity.clients.service import API_SCOPES, CIBA_GRANT_TYPE, OIDC_SCOPES
from identity.consent_port import CHANNEL_ID_TOKEN, CHANNEL_INTROSPECTION, ConsentRequest
from identity.devices.service import AppSigninError, poll_backchannel
from identity.oidc import dpop, jwks_cache
from identity.oidc.adapter import StarletteOAuth2Request, current, to_response
from identity.oidc.authorize import unsupported_response_type
from identity.oidc.models import CodeRecord, OAuthClient, TokenRecord
from identity.oidc.release import ClaimRelease
from identity.oidc.resources import ResourceIndicators, token_audience
from identity.oidc.token_reads import token_with_account_status
from identity.oidc.tokens import Grantee, TokenIssuer, session_reference, token_hash
from identity.sessions.service import SessionPolicy
from identity.throttling.credentials import INVALID_CLIENT_DESCRIPTION
from identity.tokens import repository as tokens_repository
from identity.tokens.models import CodeView
from identity.tokens.verifier import verify_own_access_token
from kit.access_tokens import JwksUnavailable
from kit.outbound import OutboundPolicy
from kit.settings import Settings

CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
ALL_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256"]
# The longest a client assertion may be valid (exp - iat). Client libraries sign for longer
# than the few minutes RFC 7523 has in mind: Authlib for 3600 s, pyoidc for 600 s,
# openid-client for 60 s. Each assertion is still used once: its jti is kept until its exp.
MAX_ASSERTION_LIFETIME = 3600
# What Authlib's grants return from a token request: (status, body, headers).
TokenResponse = tuple[int, dict[str, Any], list[tuple[str, str]]]


class S256OnlyCodeChallenge(CodeChallenge):  # type: ignore[misc]  # Authlib ships no types
    """PKCE required for every client, S256 only (RFC 9700 §2.1.1: plain is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: AuthorizationCodeGrant, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code: CodeRecord) -> str:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: CodeRecord) -> str:
        return authorization_code.row.code_challenge_method


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]  # Authlib ships no types
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def save_authorization_code(self, code: str, request: StarletteOAuth2Request) -> None:
        ctx = current.get()
        decision = request.user
        now = ctx.now
        data = request.payload.data
        if request.pushed_request and not tokens_repository.spend_pushed_request(
            ctx.db, request.pushed_request, now
        ):  # RFC 9126 §4: one pushed request, one code
            raise InvalidRequestError("The request_uri was already used.")
        ttl = code_ttl_seconds(request.client.row, self.server.settings.authorization_code_ttl_seconds)
        tokens_repository.add_code(
            ctx.db,
            CodeView(
                code_hash=token_hash(code),
                client_id=request.client.client_id,
                account_id=decision.account_id,
                session_id=decision.session_id,
                redirect_uri=data["redirect_uri"],
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data.get("code_challenge_method", "S256"),
                claims_request=decision.claims_request,
                granted_claims=list(decision.granted_claims),
                grant_id=decision.grant_id,
                auth_time=decision.auth_time,
                acr=decision.acr,
                amr=list(decision.amr),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
                used_at=None,
                dpop_jkt=data.get("dpop_jkt"),
                resources=request.payload.datalist.get("resource") or None,
            ),
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> CodeRecord | None:
        ctx = current.get()
        now = ctx.now
        row = tokens_repository.code_for_update(ctx.db, token_hash(code))
        if row is None or row.client_id != client.get_client_id():
            return None
        if row.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice is refused and what it gave is revoked.
            tokens_repository.revoke_from_code(ctx.db, row.code_hash, now)
            return None
        if row.expires_at <= now:
            return None
        return CodeRecord(row)

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        # Kept (marked used) rather than deleted, so that a replay can be recognised.
        ctx = current.get()
        tokens_repository.mark_code_used(ctx.db, authorization_code.row.code_hash, ctx.now)

    def authenticate_user(self, authorization_code: CodeRecord) -> Grantee:
        row = authorization_code.row
        return Grantee(
            account_id=row.account_id,
            auth_time=row.auth_time,
            acr=row.acr,
            amr=tuple(row.amr),
            session_id=row.session_id,
            granted_claims=tuple(row.granted_claims),
            grant_id=row.grant_id,
            family_id=secrets.token_urlsafe(16),
            code_hash=row.code_hash,
            nonce=row.nonce,
            extra_claims={"claims_request": row.claims_request or {}},
            dpop_jkt=row.dpop_jkt,
            resources=tuple(row.resources) if row.resources else None,
        )


class IDTokenExtension(OpenIDCode):  # type: ignore[misc]  # Authlib ships no types
    """Adds the ID token to the code grant's token response (OIDC Core §3.1.3.3)."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: StarletteOAuth2Request) -> bool:
        # Nonces are bound to one code each; the client checks it in the ID token.
        return False

    def process_token(self, grant: AuthorizationCodeGrant, response: TokenResponse) -> dict[str, Any]:
        _, token, _ = response
        if "openid" not in (token.get("scope") or "").split():
            return token
        ctx = current.get()
        grantee: Grantee = grant.request.user
        client: OAuthClient = grant.request.client
        token["id_token"] = self.provider.release.id_token(
            ctx, client.row, grantee, token.get("access_token")
        )
        return token


class RotatingRefreshGrant(RefreshTokenGrant):  # type: ignore[misc]  # Authlib ships no types
    """Refresh tokens rotate on every use (RFC 9700 §4.14.2).

    The successor of a refresh token is derived from it (``RefreshSuccessors``), so rotation
    is idempotent: inside the grace period (settings.refresh_reuse_grace_seconds) every reuse
    of a spent token is answered with the SAME successor and a new access token: two
    concurrent refreshes by the client both succeed, and a thief racing the client gets no
    branch of their own (a family has at most one live refresh token). Once the successor
    has itself been used, the spent token gives nothing. A spent token presented after the
    grace period means it leaked: the whole family (every token descended from the same
    code) is revoked. The parent's row is locked while this is decided, so concurrent
    requests run one after the other.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    # The claims parameter of the grant's code, read with the refresh token (one grant
    # object serves one request).
    claims_request: dict[str, Any] | None = None

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        ctx = current.get()
        now = ctx.now
        found = tokens_repository.refresh_for_update(ctx.db, token_hash(refresh_token))
        if found is None:
            return None
        row, self.claims_request = found
        if row.kind != "refresh" or row.revoked_at is not None:
            return None
        if row.expires_at <= now:
            return None
        if row.spent_at is not None:
            grace = timedelta(seconds=self.server.settings.refresh_reuse_grace_seconds)
            if now - row.spent_at > grace:
                tokens_repository.revoke_family(ctx.db, row.family_id, now)
                return None
        return TokenRecord(row, now)

    def authenticate_user(self, refresh_token: TokenRecord) -> Grantee | None:
        row = refresh_token.row
        if row.account_id is None or row.auth_time is None or row.acr is None:
            return None  # refresh tokens are issued to a resident only (TokenIssuer.issue)
        return Grantee(
            account_id=row.account_id,
            auth_time=row.auth_time,
            acr=row.acr,
            amr=tuple(row.amr),
            session_id=row.session_id,
            granted_claims=tuple(row.granted_claims),
            grant_id=row.grant_id,
            family_id=row.family_id,
            code_hash=row.code_hash,
            extra_claims={"claims_request": self.claims_request or {}},
            dpop_jkt=row.dpop_jkt,
            resources=tuple(row.resources) if row.resources else None,
        )

    def issue_token(self, user: Grantee, refresh_token: TokenRecord) -> dict[str, Any]:
        scope = self.request.payload.scope or refresh_token.get_scope()
        server: Provider = self.server
        client: OAuthClient = self.request.client
        successor = server.issuer.successors.successor_of(self.request.form["refresh_token"])
        if refresh_token.row.spent_at is None:
            token = server.generate_token(self.GRANT_TYPE, client, user, scope, refresh_token=successor)
        else:
            if not self._still_live(successor, refresh_token.row.family_id):
                raise InvalidGrantError()
            token = server.generate_token(self.GRANT_TYPE, client, user, scope, include_refresh_token=False)
            token["refresh_token"] = successor
        if "openid" in str(token.get("scope") or "").split():
            # OIDC Core §12.2: a new ID token for the original authentication, so that the
            # client holds a current one (RP-initiated logout's id_token_hint, for one).
            token["id_token"] = server.release.refreshed_id_token(
                current.get(), client.row, user, token["access_token"]
            )
        return token

    def _still_live(self, successor: str, family_id: str) -> bool:
        ctx = current.get()
        row = tokens_repository.view_by_hash(ctx.db, token_hash(successor))
        return (
            row is not None
            and row.family_id == family_id
            and row.spent_at is None
            and row.revoked_at is None
            and row.expires_at > ctx.now
        )

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        if refresh_token.row.spent_at is None:
            ctx = current.get()
            tokens_repository.spend(ctx.db, refresh_token.row.jti, ctx.now)


class DepartmentCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]  # Authlib ships no types
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS


class BackchannelGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]  # Authlib ships no types
    """OpenID Connect CIBA §10.1, poll mode: the department polls with its auth_req_id until
    the resident has approved in the app (or denied, or the request expired)."""

    GRANT_TYPE = CIBA_GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS
    ERRORS = {
        "authorization_pending": AuthorizationPendingError,
        "slow_down": SlowDownError,
        "expired_token": ExpiredTokenError,
        "access_denied": AccessDeniedError,
    }

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"The client is not authorized to use {self.GRANT_TYPE}.")
        auth_req_id = self.request.form.get("auth_req_id")
        if not auth_req_id:
            raise InvalidRequestError("Missing 'auth_req_id'.")
        ctx = current.get()
        try:
            signin = poll_backchannel(ctx.db, self.server.session_policy, ctx.now, client.row, auth_req_id)
        except AppSigninError as exc:
            raise self.ERRORS.get(exc.code, InvalidGrantError)(description=str(exc)) from None
        if signin.account_id is None or signin.decided_at is None:  # poll_backchannel returns approvals only
            raise InvalidGrantError(description="the request was not approved")
        if not identity_floor_met(ctx.db, client.row, signin.account_id):
            # The app's approval is at the device level, above any acr floor; the identity
            # floor is the resident's and no approval raises it.
            raise AccessDeniedError(
                description="The resident's identity assurance is below the client's minimum."
            )
        grant_id = (
            self.server.release.consent.record_grant(
                ctx.db,
                ConsentRequest(
                    resident_id=signin.account_id,
                    client_id=client.client_id,
                    department=client.row.department,
                    fields=tuple(signin.fields),
                    purpose_en=client.row.purpose or client.row.name,
                    purpose_zh=client.row.purpose_zh or client.row.purpose or client.row.name,
                ),
                remember=False,
                given_via="app-approval",
                now=ctx.now,
            )
            if signin.fields
            else None
        )
        self.request.client = client
        self.request.user = Grantee(
            account_id=signin.account_id,
            auth_time=signin.decided_at,
            acr=ACR_DEVICE,
            amr=(AMR_SOFTWARE_KEY,),
            session_id=signin.session_id,
            granted_claims=tuple(signin.fields),
            grant_id=grant_id,
            family_id=secrets.token_urlsafe(16),
        )
        self.request.scope = signin.scope

    def create_token_response(self) -> TokenResponse:
        client = self.request.client
        grantee: Grantee = self.request.user
        token = self.generate_token(
            user=grantee,
            scope=self.request.scope,
            include_refresh_token=client.check_grant_type("refresh_token"),
        )
        token["id_token"] = self.server.release.id_token(
            current.get(), client.row, grantee, token["access_token"]
        )
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class DisclosedClientError(InvalidClientError):  # type: ignore[misc]  # Authlib ships no types
    """A client authentication refusal whose reason the client is told. Raised only once the
    client has proved that it holds its credential (a client assertion whose signature
    verified), so the reason tells a prober nothing; every other failure gets the one
    description of ``credentials.INVALID_CLIENT_DESCRIPTION`` (``Provider.handle_error_response``)."""


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]  # Authlib ships no types
    """private_key_jwt (OIDC Core §9, RFC 7523 §2.2 and §3) with one-time ``jti``s.

    The audience may be our issuer, the token endpoint, or the endpoint the assertion is
    presented at (Authlib's client signs for the URL it posts to; pyoidc names the issuer
    at revocation and introspection). An assertion may be valid for MAX_ASSERTION_LIFETIME
    at most; its ``jti`` is refused until then."""

    CLIENT_AUTH_METHOD = "private_key_jwt"
    # The endpoints that authenticate clients (identity/oidc/routes.py).
    ENDPOINTS = ("/token", "/par", "/introspect", "/revoke", "/bc-authorize")

    def __init__(self, issuer: str, outbound: OutboundPolicy) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.issuer = issuer
        self.outbound = outbound

    def get_audiences(self) -> list[str]:
        return [self.issuer, *(f"{self.issuer}{path}" for path in self.ENDPOINTS)]

    def process_assertion_claims(self, assertion: str, resolve_key: Callable[..., Any]) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        # The signature holds: from here on the client is told what is wrong.
        claims = token.claims
        now = current.get().now.timestamp()
        iat, exp = _number(claims.get("iat")), _number(claims.get("exp"))
        if exp is None:
            raise DisclosedClientError(description="The client assertion has no exp (RFC 7523 section 3).")
        if iat is None and "iat" in claims:
            raise DisclosedClientError(description="The client assertion's iat is not a number.")
        if iat is not None and iat > now + self.leeway:
            raise DisclosedClientError(
                description="The client assertion's iat is in the future: check the client's clock."
            )
        lifetime = exp - (iat if iat is not None else now)
        if lifetime > MAX_ASSERTION_LIFETIME:
            raise DisclosedClientError(
                description=f"The client assertion is valid for {int(lifetime)} s (exp - iat); "
                f"this server accepts at most {MAX_ASSERTION_LIFETIME} s."
            )
        try:
            self.verify_claims(claims)
        except DisclosedClientError:
            raise
        except InvalidClientError as exc:
            reason = exc.description or "its claims do not hold"
            if "'aud'" in reason:
                reason += f" (the audience is {self.issuer} or the URL the assertion is posted to)"
            raise DisclosedClientError(description=f"The client assertion was refused: {reason}.") from None
        return claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        ctx = current.get()
        client_id = claims["sub"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise DisclosedClientError(description="The client assertion's jti must be 1 to 255 characters.")
        # Kept until the assertion expires (and the leeway after), so it is never taken twice.
        now = ctx.now
        expires = max(now, datetime.fromtimestamp(claims["exp"], tz=now.tzinfo)) + timedelta(
            seconds=self.leeway
        )
        if not tokens_repository.record_assertion_jti(ctx.db, jti, client_id, expires):
            raise DisclosedClientError(
                description="The client assertion's jti was already used: sign a new assertion "
                "for every request (RFC 7523 section 3)."
            )
        return True

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        """The client's registered keys. Authlib asks before it checks the client's
        registered method: a client that authenticates otherwise, or whose keys cannot be
        had or used, is an unknown signer (RFC 6749 §5.2 invalid_client), never a 500. A
        failed fetch gets the same words as a bad signature: the caller learns nothing."""
        if client.row.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD:
            raise InvalidClientError(description="The client does not authenticate with private_key_jwt.")
        try:
            return jwks_cache.client_keys(client.row, self.outbound)
        except (jwks_cache.ClientKeysUnavailable, JwksUnavailable):
            raise InvalidClientError(description="Invalid client assertion.") from None
        except (JoseError, ValueError) as exc:  # joserfc: no keys, or unusable ones
            raise InvalidClientError(description="The client's registered keys cannot be used.") from exc


def tried_basic(headers: Mapping[str, str]) -> bool:
    """Whether the request carries HTTP Basic credentials (client_secret_basic)."""
    return headers.get("authorization", "")[:6].lower() == "basic "


def _number(value: Any) -> float | None:
    """A JWT NumericDate (RFC 7519 §2), or None when it is absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def identity_floor_met(db: Session, client: Client, account_id: str) -> bool:
    """Whether the account's identity level reaches the client's ``min_identity_level``."""
    if not client.min_identity_level:
        return True
    account = accounts_repository.get(db, account_id)
    return account is not None and ial_satisfies(account.identity_level, client.min_identity_level)


def find_token(provider: Provider, token_string: str, hint: str | None) -> TokenRecord | None:
    """The token of ours ``token_string`` is, with its account's status: an access token by
    its ``jti`` once its signature checks, else any by its hash."""
    ctx = current.get()
    found = None
    if token_string.count(".") == 2 and hint != "refresh_token":
        claims = provider.verify_access_token(token_string, check_expiry=False)
        if claims is not None:
            found = token_with_account_status(ctx.db, jti=claims["jti"])
    if found is None and len(token_string) <= 512:
        found = token_with_account_status(ctx.db, token_hash=token_hash(token_string))
    if found is None:
        return None
    row, status = found
    return TokenRecord(row, ctx.now, account_active=row.account_id is None or status == "active")


class Revocation(RevocationEndpoint):  # type: ignore[misc]  # Authlib ships no types
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS + ["none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return find_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: TokenRecord, request: StarletteOAuth2Request) -> None:
        ctx = current.get()
        if token.row.kind == "refresh":
            # RFC 7009 §2.1: revoking a refresh token also ends the access tokens of its grant.
            tokens_repository.revoke_family(ctx.db, token.row.family_id, ctx.now)
        elif token.row.revoked_at is None:
            tokens_repository.revoke(ctx.db, token.row.jti, ctx.now)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]  # Authlib ships no types
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return find_token(self.server, token_string, token_type_hint)

    def check_permission(
        self, token: TokenRecord, client: OAuthClient, request: StarletteOAuth2Request
    ) -> bool:
        # A department sees its own tokens; the gateway's first-party resource servers see all.
        return token.row.client_id == client.get_client_id() or client.row.first_party

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        ctx = current.get()
        row = token.row
        owner = self.server.clients.get(ctx.db, row.client_id)
        if owner is None or not token.account_active:
            return {"active": False}
        access_type = "DPoP" if row.dpop_jkt else "Bearer"
        body: dict[str, Any] = {
            "active": True,
            "client_id": row.client_id,
            "token_type": access_type if row.kind == "access" else "refresh_token",
            "scope": row.scope,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp()),
            "iss": self.server.settings.issuer,
            "jti": row.jti,
        }
        if row.dpop_jkt and row.kind == "access":
            body["cnf"] = {"jkt": row.dpop_jkt}  # RFC 9449 §6.2
        if row.account_id:
            body["sub"] = self.server.issuer.subject(owner, row.account_id)
            body["acr"] = row.acr
            body["auth_time"] = int(row.auth_time.timestamp()) if row.auth_time else None
            self.server.release.record(
                ctx, owner, row.account_id, CHANNEL_INTROSPECTION, ["sub"], row.grant_id
            )
        else:
            body["sub"] = row.client_id
        return body


class Provider(AuthorizationServer):  # type: ignore[misc]  # Authlib ships no types
    def __init__(
        self,
        issuer: TokenIssuer,
        release: ClaimRelease,
        settings: Settings,
        master_key: bytes,
        session_policy: SessionPolicy,
    ) -> None:
        super().__init__(scopes_supported=[*OIDC_SCOPES, *API_SCOPES])
        self.issuer = issuer
        self.release = release
        self.settings = settings
        self.master_key = master_key
        self.session_policy = session_policy
        self.clients = ClientCache()
        self.register_grant(
            CodeGrant,
            [S256OnlyCodeChallenge(required=True), IDTokenExtension(self), ResourceIndicators(issuer.issuer)],
        )
        self.register_grant(RotatingRefreshGrant)
        self.register_grant(DepartmentCredentialsGrant)
        self.register_grant(BackchannelGrant)
        self.register_client_auth_method(
            PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(issuer.issuer, settings.outbound_policy)
        )
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    def get_authorization_grant(self, request: StarletteOAuth2Request) -> BaseGrant:
        """Authlib echoes ``response_type`` and ``redirect_uri`` into ``error_description``,
        whose characters RFC 6749 §5.2 limits, and its error refuses to be built with others
        (a ValueError, so a 500). No valid response type or URI (RFC 3986) holds them:
        refuse such a request first, without redirecting anywhere."""
        for name in ("response_type", "redirect_uri"):
            value = request.payload.data.get(name)
            if isinstance(value, str) and invalid_error_characters(value):
                raise InvalidRequestError(f"{name} holds characters no valid value has.")
        try:
            return super().get_authorization_grant(request)
        except UnsupportedResponseTypeError as error:
            raise unsupported_response_type(
                request.payload.data.get("response_type"), error.redirect_uri
            ) from None

    # -- Authlib's storage callbacks -------------------------------------------------------
    def query_client(self, client_id: str) -> OAuthClient | None:
        ctx = current.get()
        row = self.clients.get(ctx.db, client_id) if isinstance(client_id, str) else None
        return OAuthClient(row, self.master_key) if row else None

    def generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Grantee | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        """Authlib's token generator; ``refresh_token`` names the new refresh token's value
        when a rotation decided it (RotatingRefreshGrant)."""
        ctx = current.get()
        settings = self.settings
        jkt = dpop.binding(client.row, user.dpop_jkt if user else None, ctx.dpop_jkt)
        audience = token_audience(
            client.row, self.issuer.issuer, ctx.resources, user.resources if user else None
        )
        granted, role_claims = self.release.access_grant(ctx, client.row, user, scope or "")
        body, rows = self.issuer.issue(
            ctx.db,
            client=client.row,
            grantee=user,
            scope=granted,
            now=ctx.now,
            access_ttl=settings.access_token_ttl_seconds,
            refresh_ttl=settings.refresh_token_ttl_seconds if include_refresh_token else None,
            refresh_token=refresh_token,
            extra_claims=role_claims,
            dpop_jkt=jkt,
            audience=audience,
        )
        ctx.pending.extend(rows)
        return body

    def save_token(self, token: dict[str, Any], request: StarletteOAuth2Request) -> None:
        ctx = current.get()
        tokens_repository.add_tokens(ctx.db, ctx.pending)
        ctx.pending.clear()

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        return request  # the adapter already built it

    def handle_error_response(self, request: StarletteOAuth2Request, error: OAuth2Error) -> Response:
        """RFC 6749 §5.2's invalid_client: a 401 with a ``Basic`` challenge when the client
        tried HTTP Basic, else a 400 without one (a 401 must name a scheme the client used,
        RFC 9110 §15.5.2). One description whatever failed (unknown client, wrong secret, bad
        signature: the answer must not tell a prober which client ids exist), unless the
        client proved its credential first (``DisclosedClientError``)."""
        if not isinstance(error, InvalidClientError):
            response: Response = super().handle_error_response(request, error)
            return response
        description = (
            error.description if isinstance(error, DisclosedClientError) else INVALID_CLIENT_DESCRIPTION
        )
        body = {"error": "invalid_client", "error_description": description}
        headers = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if not tried_basic(request.headers):
            return self.handle_response(400, body, headers)
        challenge = f'Basic realm="{self.issuer.issuer}", error="invalid_client"'
        return self.handle_response(401, body, [*headers, ("WWW-Authenticate", challenge)])

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]] | None) -> Response:
        return to_response(status, body, headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    # -- helpers for the endpoints ---------------------------------------------------------
    def verify_access_token(self, token: str, *, check_expiry: bool = True) -> dict[str, Any] | None:
        return verify_own_access_token(
            current.get().db,
            token,
            issuer=self.issuer.issuer,
            now=current.get().now,
            check_expiry=check_expiry,
        )


__all__ = ["Provider", "session_reference", "CHANNEL_ID_TOKEN"]
