"""The forms hub's tunables, passed in by whoever builds it (STYLE.md: settings in one
place; nothing here reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class FormsConfig:
    # A draft nobody saved for this long is gone: not listed, not submittable, purged by
    # `egate forms purge-drafts`.
    draft_ttl: timedelta = timedelta(days=30)
    # A draft made on a version that has since been superseded may still be submitted on
    # its own version for this long after the new version was published; after that it is
    # moved to the new version (answers the new version no longer asks for are dropped).
    superseded_grace: timedelta = timedelta(days=30)
    session_ttl: timedelta = timedelta(hours=8)
    auth_request_ttl: timedelta = timedelta(minutes=10)
    # Generation of the ES256 key new receipts are signed with; every generation up to this
    # one stays published so old receipts keep verifying.
    receipt_key_generation: int = 1
    max_upload_bytes: int = 20 * 1024 * 1024
    # The provider's discovery document and JWKS are cached this long; an unknown ``kid``
    # refetches the JWKS sooner (key rotation).
    provider_cache_seconds: float = 300.0
    http_timeout_seconds: float = 10.0
    queue_page_size: int = 50
