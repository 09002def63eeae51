"""Department clients (relying parties) registered with the provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class Client(Base):
    __tablename__ = "idp_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(64))
    client_type: Mapped[str] = mapped_column(String(16), default="confidential")
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    subject_type: Mapped[str] = mapped_column(String(16), default="pairwise")
    sector_identifier: Mapped[str] = mapped_column(String(200))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    purpose: Mapped[str | None] = mapped_column(Text)
    purpose_zh: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    require_per_request_consent: Mapped[bool] = mapped_column(default=False)
    first_party: Mapped[bool] = mapped_column(default=False)
    # A client whose own client_credentials tokens may carry ``ledger:audit`` (claims.py).
    audit_system: Mapped[bool] = mapped_column(default=False, server_default=false())
    disabled: Mapped[bool] = mapped_column(default=False)
    # The department's floor: the least identity level (identity.assurance.IAL_*) and the
    # least authentication level (``acr``) a resident must have to be signed in to it.
    min_identity_level: Mapped[str | None] = mapped_column(String(16))
    min_acr: Mapped[str | None] = mapped_column(String(64))
    # OpenID Connect Back-Channel Logout 1.0 §2.2: where the provider POSTs logout tokens.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # OpenID Connect CIBA §4: how a CIBA client learns of the resident's decision (poll | ping).
    backchannel_token_delivery_mode: Mapped[str | None] = mapped_column(String(8))
    backchannel_client_notification_endpoint: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # FAPI 2.0 and its parts (identity/clients/profiles.py): the profile the client was
    # registered under, pushed requests only (RFC 9126 §6), DPoP-bound tokens only (RFC 9449
    # §5.2), signed request objects only (RFC 9101 §10.5), the resources it may ask tokens
    # for (RFC 8707; None: none besides the gateway's own).
    profile: Mapped[str | None] = mapped_column(String(16))
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(default=False, server_default=false())
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(default=False, server_default=false())
    require_signed_request_object: Mapped[bool] = mapped_column(default=False, server_default=false())
    resources: Mapped[list[str] | None] = mapped_column(JSON)


class ClientsVersion(Base):
    """One row: a number that every change to ``idp_clients`` raises in its own transaction.

    Each process keeps the clients it has read (identity/clients/cache.py) and compares this
    number, one primary-key read, before trusting them: a change made through any replica
    (or by hand, with ``UPDATE idp_clients_version SET version = version + 1``) is seen by
    the next request everywhere."""

    __tablename__ = "idp_clients_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
