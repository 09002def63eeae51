"""Issuing tokens: RFC 9068 JWT access tokens (ES256), opaque rotating refresh tokens, and
ID tokens (OIDC Core §2) signed with the algorithm the client registered (RS256 default)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from authlib.oidc.core.util import create_half_hash
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from sqlalchemy.orm import Session

from identity.clients.models import Client
from identity.keys.service import ActiveKey, KeyCache
from identity.sessions.service import session_reference as session_reference
from identity.tokens import repository as tokens_repository
from identity.tokens.models import TokenView
from identity.tokens.subjects import SubjectIdentifiers
from kit.access_tokens import remember_own_signature
from kit.sealing import derive_key

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1


@dataclass(frozen=True)
class Grantee:
    """The resident (or officer) on whose behalf tokens are issued, with how they signed in
    and what they agreed to release. Built from an authorization code or a refresh token."""

    account_id: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]
    session_id: str | None
    granted_claims: tuple[str, ...]
    grant_id: str | None
    family_id: str
    code_hash: str | None = None
    nonce: str | None = None
    extra_claims: dict[str, Any] = field(default_factory=dict)
    # RFC 9449: the DPoP key the code or refresh token demands; RFC 8707: the resources its
    # grant named.
    dpop_jkt: str | None = None
    resources: tuple[str, ...] | None = None


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def resource_audiences(issuer: str) -> list[str]:
    """The gateway's resource servers: the provider's userinfo, consent and forms_hub."""
    return [issuer, f"{issuer}/consent", f"{issuer}/forms"]


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def signed_jwt(header: dict[str, Any], claims: dict[str, Any], key: ActiveKey) -> str:
    """A JWT as a compact JWS (RFC 7515 §7.1, RFC 7519 §7.1) signed by ``key`` with its own
    algorithm: ES256 (RFC 7518 §3.4: R || S, 32 octets each) or RS256 (§3.3). Done with
    ``cryptography`` directly: every grant signs one or two tokens, and a general JOSE
    library's registry and key handling cost more than the signature."""
    signing_input = (
        _b64url(json.dumps({**header, "alg": key.alg, "kid": key.kid}, separators=(",", ":")).encode())
        + b"."
        + _b64url(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    )
    private = key.key.private_key
    if key.alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif key.alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        signature = private.sign(signing_input, padding.PKCS1v15(), SHA256())
    else:
        raise ValueError(f"no {key.alg} signing with key {key.kid}")
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


class RefreshSuccessors:
    """The refresh token that replaces another, derived from it: ``HMAC(key, parent)``.

    Rotation is then idempotent (issue 13 item 7): every use of one refresh token inside the
    reuse grace window is answered with the same successor, so a thief racing the client
    gets the client's own next token rather than a branch of the family of their own. The
    successor is never stored (only its hash, like every refresh token); without the key,
    derived from the master secret for this purpose only, it cannot be computed from the
    parent, and the parent is itself a 256-bit random secret the server only holds hashed.
    """

    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "refresh-successor/v1")

    def successor_of(self, parent: str) -> str:
        digest = hmac.new(self._key, parent.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


MAX_REMEMBERED_SUBJECTS = 65536


class TokenIssuer:
    def __init__(
        self, issuer: str, keys: KeyCache, subjects: SubjectIdentifiers, successors: RefreshSuccessors
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.subjects = subjects
        self.successors = successors
        # The (sector, sub) pairs seen committed in ``idp_subjects``: nothing deletes a pair
        # and a ``sub`` always names the same account, so every refresh and code exchange of a
        # resident already remembered skips the insert.
        self._remembered: set[tuple[str, str]] = set()
        self._public_jwks: dict[str, dict[str, Any]] = {}

    def _public_jwk(self, key: ActiveKey) -> dict[str, Any]:
        """The published half of a signing key (its JWK's ``x`` and ``y``), kept by kid."""
        public = self._public_jwks.get(key.kid)
        if public is None:
            public = self._public_jwks[key.kid] = dict(key.key.as_dict(private=False))
        return public

    def subject(self, client: Client, account_id: str) -> str:
        return self.subjects.for_client(account_id, client.subject_type, client.sector_identifier)

    def remember_subject(self, db: Session, client: Client, account_id: str) -> str:
        """The ``sub`` for this client, kept so the department may later name the resident
        by it (CIBA login_hint)."""
        sub = self.subject(client, account_id)
        pair = (client.sector_identifier, sub)
        if pair in self._remembered:
            return sub
        if tokens_repository.remember_subject(db, *pair, account_id):
            if len(self._remembered) >= MAX_REMEMBERED_SUBJECTS:
                self._remembered.clear()
            self._remembered.add(pair)
        return sub

    def issue(
        self,
        db: Session,
        *,
        client: Client,
        grantee: Grantee | None,
        scope: str,
        now: datetime,
        access_ttl: int,
        refresh_ttl: int | None,
        refresh_token: str | None = None,
        extra_claims: dict[str, Any] | None = None,
        dpop_jkt: str | None = None,
        audience: list[str] | None = None,
    ) -> tuple[dict[str, Any], list[TokenView]]:
        """Returns the token response body and the rows that record what was issued.

        ``refresh_token``: the value of the new refresh token when it is decided beforehand
        (a rotation's successor); a fresh random one otherwise. ``dpop_jkt``: the key the
        access token is bound to (``cnf.jkt``, RFC 9449 §6.1), and a public client's refresh
        token too (§5). ``audience``: the resources asked for (RFC 8707); the gateway's own
        resource servers by default."""
        jti = secrets.token_urlsafe(16)
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience or resource_audiences(self.issuer),
            "exp": iat + access_ttl,
            "iat": iat,
            "jti": jti,
            "client_id": client.client_id,
            "scope": scope,
            "sub": self.subject(client, grantee.account_id) if grantee else client.client_id,
        }
        if grantee:
            claims["auth_time"] = int(grantee.auth_time.timestamp())
            claims["acr"] = grantee.acr
            claims["amr"] = list(grantee.amr)
        else:
            claims["department"] = client.department
        claims.update(extra_claims or {})
        if dpop_jkt:
            claims["cnf"] = {"jkt": dpop_jkt}
        key = self.keys.signing_key(db, "ES256")
        access_token = signed_jwt({"typ": ACCESS_TOKEN_TYPE}, claims, key)
        remember_own_signature(access_token, self._public_jwk(key))
        access = TokenView(
            jti=jti,
            kind="access",
            token_hash=None,
            client_id=client.client_id,
            account_id=grantee.account_id if grantee else None,
            session_id=grantee.session_id if grantee else None,
            scope=scope,
            granted_claims=list(grantee.granted_claims) if grantee else [],
            grant_id=grantee.grant_id if grantee else None,
            family_id=grantee.family_id if grantee else jti,
            code_hash=grantee.code_hash if grantee else None,
            auth_time=grantee.auth_time if grantee else None,
            acr=grantee.acr if grantee else None,
            amr=list(grantee.amr) if grantee else [],
            issued_at=now,
            expires_at=now + timedelta(seconds=access_ttl),
            spent_at=None,
            revoked_at=None,
            dpop_jkt=dpop_jkt,
            resources=audience,
        )
        rows = [access]
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "DPoP" if dpop_jkt else "Bearer",
            "expires_in": access_ttl,
            "scope": scope,
        }
        if refresh_ttl and grantee:
            refresh_token = refresh_token or secrets.token_urlsafe(32)
            rows.append(
                replace(
                    access,
                    jti=secrets.token_urlsafe(16),
                    kind="refresh",
                    token_hash=token_hash(refresh_token),
                    expires_at=now + timedelta(seconds=refresh_ttl),
                    dpop_jkt=dpop_jkt if client.client_type == "public" else None,
                    resources=list(grantee.resources) if grantee.resources else None,
                )
            )
            body["refresh_token"] = refresh_token
        return body, rows

    def id_token(
        self,
        db: Session,
        *,
        client: Client,
        grantee: Grantee,
        access_token: str | None,
        now: datetime,
        ttl: int,
        released_claims: dict[str, Any],
        session_ref: str | None,
    ) -> str:
        alg = client.id_token_signed_response_alg
        key = self.keys.signing_key(db, alg)
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.remember_subject(db, client, grantee.account_id),
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": iat + ttl,
            "iat": iat,
            "auth_time": int(grantee.auth_time.timestamp()),
            "acr": grantee.acr,
            "amr": list(grantee.amr),
        }
        if grantee.nonce:
            claims["nonce"] = grantee.nonce
        if session_ref:
            claims["sid"] = session_ref
        if access_token:
            claims["at_hash"] = create_half_hash(access_token, alg).decode()
        claims.update(released_claims)
        return signed_jwt({"typ": "JWT"}, claims, key)
