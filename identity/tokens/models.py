"""Authorization codes and issued tokens: everything a restart or a second replica needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class AuthorizationCode(Base):
    __tablename__ = "idp_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    granted_claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_id: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime]
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # RFC 9449 §10: the key the token request must prove; RFC 8707: the resources asked for.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    resources: Mapped[list[str] | None] = mapped_column(JSON)

    # Who holds what from a session or an account, asked when sessions end (back-channel logout).
    __table_args__ = (
        Index("ix_idp_authorization_codes_session", "session_id"),
        Index("ix_idp_authorization_codes_account", "account_id"),
        Index("ix_idp_authorization_codes_expires", "expires_at"),  # housekeeping
    )


@dataclass(frozen=True, slots=True)
class CodeView:
    """An ``idp_authorization_codes`` row as the token endpoint reads it: plain values; the
    code is marked used by the repository's own UPDATE. The fields are AuthorizationCode's
    columns, in order."""

    code_hash: str
    client_id: str
    account_id: str
    session_id: str | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    claims_request: dict[str, Any] | None
    granted_claims: list[str]
    grant_id: str | None
    auth_time: datetime
    acr: str
    amr: list[str]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    dpop_jkt: str | None
    resources: list[str] | None


class IssuedToken(Base):
    """Access and refresh tokens. Access tokens are JWTs verified locally by resource servers;
    we keep their jti so revocation and introspection work. Refresh tokens are opaque; we keep
    a hash. ``family_id`` links a refresh chain to the code it came from."""

    __tablename__ = "idp_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    granted_claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_id: Mapped[str | None] = mapped_column(String(64))
    family_id: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime | None]
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]  # refresh tokens: rotated away
    revoked_at: Mapped[datetime | None]
    # RFC 9449: the key a DPoP-bound access token (cnf.jkt) or a public client's refresh
    # token is bound to; RFC 8707: the access token's audience, or what a refresh token's
    # grant named (None: the gateway's own resource servers).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    resources: Mapped[list[str] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_idp_tokens_family", "family_id"),
        Index("ix_idp_tokens_account", "account_id"),
        Index("ix_idp_tokens_session", "session_id"),
        # Housekeeping: expired tokens go; a code goes once no live token names it.
        Index("ix_idp_tokens_expires", "expires_at"),
        Index("ix_idp_tokens_code", "code_hash"),
    )


@dataclass(frozen=True, slots=True)
class TokenView:
    """An ``idp_tokens`` row as read on the hot paths (userinfo, introspection, revocation,
    a refresh): plain values, no ORM entity to build and track; a change to the row goes
    through the repository's own UPDATE. The fields are IssuedToken's columns, in order."""

    jti: str
    kind: str
    token_hash: str | None
    client_id: str
    account_id: str | None
    session_id: str | None
    scope: str
    granted_claims: list[str]
    grant_id: str | None
    family_id: str
    code_hash: str | None
    auth_time: datetime | None
    acr: str | None
    amr: list[str]
    issued_at: datetime
    expires_at: datetime
    spent_at: datetime | None
    revoked_at: datetime | None
    dpop_jkt: str | None
    resources: list[str] | None


class AssertionJti(Base):
    """private_key_jwt assertions seen, so one cannot be replayed (RFC 7523 §3, item 7)."""

    __tablename__ = "idp_assertion_jtis"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


class SubjectRecord(Base):
    """Which account a pairwise ``sub`` stands for, kept when an ID token is issued, so a
    department can name the resident it already knows (CIBA ``login_hint``)."""

    __tablename__ = "idp_subjects"

    sector: Mapped[str] = mapped_column(String(200), primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))


class ReauthenticationDemand(Base):
    """An authorization request that sent the browser to sign in again (``prompt=login``,
    ``max_age``), kept server-side: when the browser comes back with the random handle, only
    a sign-in after ``demanded_at`` satisfies the request, once (issue 12 item 2: the resume
    state used to travel in a request parameter that anyone could set)."""

    __tablename__ = "idp_reauthentication_demands"

    handle_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    demanded_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idp_reauthentication_demands_expires", "expires_at"),)


class PushedAuthorizationRequest(Base):
    """An authorization request pushed by an authenticated client (RFC 9126 §2): kept under
    the hash of its ``request_uri``, which is a random value of ours, never stored in clear.
    It opens at /authorize until ``expires_at``; once opened, the resident's sign-in and
    consent may take longer (``opened_at``); the code it leads to spends it (``used_at``)."""

    __tablename__ = "idp_pushed_requests"

    request_uri_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idp_pushed_requests_expires", "expires_at"),)


class DpopProofSeen(Base):
    """DPoP proofs already used, by the hash of their key's thumbprint and ``jti``, kept
    while they could still be replayed (RFC 9449 §11.1): shared by every worker."""

    __tablename__ = "idp_dpop_proofs"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_idp_dpop_proofs_expires", "expires_at"),)
