"""The forms hub's tunables and its addresses, built from the one ``Settings`` (STYLE.md:
settings in one place; nothing here reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kit.settings import Settings


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
    # An image declaring more pixels than this is refused before it is decoded.
    max_image_pixels: int = 40_000_000
    # The provider's discovery document and JWKS are cached this long; an unknown ``kid``
    # refetches the JWKS sooner (key rotation).
    provider_cache_seconds: float = 300.0
    http_timeout_seconds: float = 10.0
    queue_page_size: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> FormsConfig:
        """The operator's ``EGATE_FORMS_*`` settings; the defaults above are theirs too."""
        return cls(
            draft_ttl=timedelta(days=settings.forms_draft_ttl_days),
            superseded_grace=timedelta(days=settings.forms_superseded_grace_days),
            session_ttl=timedelta(seconds=settings.forms_session_ttl_seconds),
            auth_request_ttl=timedelta(seconds=settings.forms_auth_request_ttl_seconds),
            receipt_key_generation=settings.forms_receipt_key_generation,
            max_upload_bytes=settings.forms_max_upload_bytes,
            max_image_pixels=settings.forms_max_image_pixels,
            provider_cache_seconds=settings.forms_provider_cache_seconds,
            http_timeout_seconds=settings.forms_http_timeout_seconds,
            queue_page_size=settings.forms_queue_page_size,
        )


@dataclass(frozen=True)
class Site:
    """Where the hub is: mounted at ``/forms`` under the provider's issuer."""

    issuer: str

    @property
    def base_url(self) -> str:
        return f"{self.issuer}/forms"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def identity_proofing_url(self) -> str:
        """Where a resident asks the provider for remote identity proofing."""
        return f"{self.issuer}/account/identity"

    @property
    def audience(self) -> str:
        """What the provider puts in ``aud`` of access tokens meant for this hub."""
        return f"{self.issuer}/forms"
