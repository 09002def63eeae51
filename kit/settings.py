"""All configuration, read once from ``EGATE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kit.client_address import TrustedProxies
from kit.db import DatabaseTimeouts
from kit.outbound import OutboundPolicy
from kit.request_guard import RequestLimits

MIN_ADMIN_TOKEN_LENGTH = 32


class SettingsError(Exception):
    """A setting is malformed; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EGATE_", extra="ignore")

    data_dir: Path = Path("./data")
    issuer: str = "http://127.0.0.1:8000"
    database_url: str | None = None
    # Master secret (base64, 32 bytes) from which every other key is derived; when unset it
    # is read from, or generated into, master_key_file (default: <data_dir>/master.key).
    # Several keys (comma- or line-separated, current first) during a rotation: kit/keys.py.
    master_key: str | None = Field(default=None, repr=False)
    master_key_file: Path | None = None
    # The root secret every key is derived from, wrapped under the master key (kit/keys.py);
    # default <data_dir>/root.key.
    root_key_file: Path | None = None
    # Generation of the field-encryption key new ciphertexts use (identity/security/keyring.py).
    field_key_generation: int = Field(default=1, ge=1, le=999)

    # How long anything waits on the database before the request fails fast with 503.
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    db_lock_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Userinfo, introspection and client_credentials read first (on SQLite outside the write
    # lock) and insert after, with the other requests of the loop's turn in one transaction
    # (kit/reads_first.py, kit/insert_batches.py). Unset: on for SQLite, off for PostgreSQL,
    # where the batch's hop into a worker thread cost more than its shared COMMIT saved
    # (docs/performance.md). False: each in a write transaction of its own.
    database_reads_first: bool | None = None
    # A request that has not started its response by then gets 503 + Retry-After.
    request_deadline_seconds: float = Field(default=8.0, gt=0, le=300)

    # Requests: bodies counted while streaming (uploads have their own, larger limit), header
    # fields bounded, slow bodies cut off (kit/request_guard.py).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_header_count: int = Field(default=64, ge=8, le=1000)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    body_idle_timeout_seconds: float = Field(default=10.0, gt=0)
    body_total_timeout_seconds: float = Field(default=60.0, gt=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    auto_migrate: bool = True

    # argon2id: OWASP's minimum (m=19 MiB, t=2, p=1); tests lower these through the environment.
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    access_token_ttl_seconds: int = Field(default=600, ge=30)
    id_token_ttl_seconds: int = Field(default=600, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=120)
    authorization_code_ttl_seconds: int = Field(default=60, ge=10, le=600)
    # RFC 9126: every client must push its authorization requests (PAR) when true; a client
    # can be held to it alone (require_pushed_authorization_requests, --require-par).
    require_par: bool = False
    # RFC 9449 §8: the token and PAR endpoints demand a DPoP nonce of theirs in every proof.
    dpop_require_nonce: bool = True
    # The deployment's resource servers (consent, forms hub) ask whether an access token was
    # revoked; a "not revoked" answer is reused this long, so a revocation takes effect
    # within it (kit.access_tokens.CachedRevocationCheck).
    revocation_cache_seconds: float = Field(default=2.0, ge=0, le=30)
    # URLs a client registers for us to fetch (jwks_uri) must be public https (kit.outbound).
    # true: a test deployment only, whose clients' keys are served on a private network.
    outbound_allow_private: bool = False
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    session_absolute_seconds: int = Field(default=12 * 3600, ge=300)

    # consent (consent/config.py): when the ledger signs a checkpoint on append, how long
    # consent lasts, and which first-party clients may read a resident's own entries.
    consent_checkpoint_max_entries: int = Field(default=1000, ge=1)
    consent_checkpoint_max_age_seconds: int = Field(default=60, ge=1)
    # The sequencer signs at most one checkpoint per this many seconds (0: one per batch):
    # entries are integrated at once, a quiet log is not signed once per entry.
    consent_checkpoint_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    consent_remembered_days: int = Field(default=365, ge=1)
    consent_per_request_days: int = Field(default=30, ge=1)
    consent_jwks_cache_seconds: float = Field(default=60.0, ge=0)
    consent_resident_client_ids: str | None = None  # comma-separated; unset: any public-subject client
    # The ledger's sequencer (consent/ledger/sequencer.py): whether `egate serve` runs one
    # (a standby unless it holds the lease), the most entries one batch integrates, how
    # often an idle sequencer looks at the queue (unset: by backend, consent/config.py), and
    # how long a lease holds unrenewed (what a dead sequencer's successor waits at most).
    consent_sequencer_enabled: bool = True
    consent_sequencer_batch_size: int = Field(default=5000, ge=1, le=100_000)
    consent_sequencer_interval_seconds: float | None = Field(default=None, gt=0, le=60)
    consent_sequencer_lease_seconds: float = Field(default=5.0, ge=0.5, le=600)

    # Housekeeping (egate/maintenance.py): expired codes, tokens, sessions... removed every
    # this many seconds inside `egate serve` (0: only by `egate maintenance`), so many rows
    # per transaction.
    maintenance_interval_seconds: float = Field(default=300.0, ge=0)
    maintenance_batch_size: int = Field(default=1000, ge=1, le=100_000)

    # forms hub (forms_hub/config.py).
    forms_draft_ttl_days: int = Field(default=30, ge=1)
    forms_superseded_grace_days: int = Field(default=30, ge=0)
    forms_session_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    forms_auth_request_ttl_seconds: int = Field(default=600, ge=60)
    forms_receipt_key_generation: int = Field(default=1, ge=1, le=999)
    forms_max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    forms_max_image_pixels: int = Field(default=40_000_000, ge=1)
    forms_provider_cache_seconds: float = Field(default=300.0, ge=0)
    forms_http_timeout_seconds: float = Field(default=10.0, gt=0)
    forms_queue_page_size: int = Field(default=50, ge=1, le=500)

    # The administrator credential (a bearer token): long enough that guessing it is hopeless.
    admin_token: str | None = Field(default=None, repr=False)
    # The bearer token a Prometheus scraper presents at /metrics (kit/metrics.py); unset:
    # /metrics answers only loopback clients whose request no proxy relayed.
    metrics_token: str | None = Field(default=None, repr=False)
    # Reverse proxies / load balancers whose Forwarded or X-Forwarded-For header names the
    # client (comma-separated IPs or CIDR networks; kit/client_address.py). Default: none, so
    # such headers are ignored and the TCP peer is the client.
    trusted_proxies: str | None = None
    mail_backend: Literal["console", "file", "smtp"] = "file"
    # `egate serve --demo` sets it: demo data, and the demo mailbox (see demo_mailbox).
    demo: bool = False
    smtp_url: str | None = Field(default=None, repr=False)

    @field_validator("issuer")
    @classmethod
    def _issuer_is_absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, e.g. https://id.example.gov.hk")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment (OpenID Discovery §3)")
        return value.rstrip("/")

    @field_validator("admin_token", "metrics_token")
    @classmethod
    def _tokens_are_long(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_ADMIN_TOKEN_LENGTH:
            # The message never quotes the value: it is a secret.
            raise ValueError(
                f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str | None) -> str | None:
        TrustedProxies.parse(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'egate.sqlite3').resolve()}"

    @property
    def reads_first(self) -> bool:
        """``database_reads_first``, or by default whether the database is SQLite."""
        if self.database_reads_first is not None:
            return self.database_reads_first
        return self.effective_database_url.startswith("sqlite")

    @property
    def database_timeouts(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(
            connect=self.db_connect_timeout_seconds,
            pool=self.db_pool_timeout_seconds,
            statement=self.db_statement_timeout_seconds,
            lock=self.db_lock_timeout_seconds,
        )

    @property
    def request_limits(self) -> RequestLimits:
        return RequestLimits(
            max_header_count=self.max_header_count,
            max_header_bytes=self.max_header_bytes,
            max_body_bytes=self.max_body_bytes,
            body_idle_seconds=self.body_idle_timeout_seconds,
            body_total_seconds=self.body_total_timeout_seconds,
        )

    @property
    def outbound_policy(self) -> OutboundPolicy:
        return OutboundPolicy(allow_private=self.outbound_allow_private, development=self.is_development)

    @property
    def is_development(self) -> bool:
        """The issuer is http on loopback: a developer's machine or a test, never a deployment
        anyone else reaches."""
        parts = urlsplit(self.issuer)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")

    @property
    def demo_mailbox(self) -> bool:
        """The demo mailbox page shows every message of the outbox, codes included, to whoever
        asks: only in demo mode, and only where nobody else can reach it (a loopback issuer),
        so that `--demo` on a real deployment never opens residents' codes to the world."""
        return self.demo and self.is_development

    @property
    def trusted_proxy_networks(self) -> TrustedProxies:
        return TrustedProxies.parse(self.trusted_proxies)

    @property
    def effective_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def effective_root_key_file(self) -> Path:
        return self.root_key_file or self.data_dir / "root.key"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "EGATE_" + str(first["loc"][0]).upper() if first["loc"] else "EGATE_*"
        raise SettingsError(f"{name}: {first['msg']}") from None
