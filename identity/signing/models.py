"""Digital signing: the signing CA and its time-stamping authority, the residents' signing
certificates, and the signature requests departments make.

Private keys of the CA and the TSA are sealed under the master secret (as every key is);
residents' private keys never reach the gateway (the app keeps them). Certificates name the
resident, so they are sealed too; the CRL and OCSP need only serials and dates, kept in clear.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base


class SigningAuthority(Base):
    """The signing CA (role ``ca``) and the time-stamping authority under it (role ``tsa``)."""

    __tablename__ = "idp_signing_authorities"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    serial: Mapped[str] = mapped_column(String(40))  # hex, as the CRL and OCSP name it
    certificate_pem: Mapped[str] = mapped_column(Text)
    # The issuers above it up to the trust anchor (PEM); empty for a CA that is its own root.
    chain_pem: Mapped[str] = mapped_column(Text, default="")
    private_key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class SigningCertificate(Base):
    """A resident's signing certificate for a key kept by one bound device."""

    __tablename__ = "idp_signing_certificates"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(32))
    authority_id: Mapped[str] = mapped_column(String(32))
    certificate_sealed: Mapped[str] = mapped_column(Text)  # DER, base64, sealed (it names the resident)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # RFC 5280 §5.3.1 reason name (cryptography's x509.ReasonFlags value).
    revocation_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_idp_signing_certificates_account", "account_id"),
        Index("ix_idp_signing_certificates_device", "device_id"),
        Index("ix_idp_signing_certificates_revoked", "authority_id", "revoked_at"),
    )


class SignatureRequest(Base):
    """A department's request for the resident's signature over a document, by its hash.

    ``kind`` ``cms``: the department sent a SHA-256 hash and receives a detached CMS
    SignedData. ``pdf``: it sent a PDF and receives it signed (PAdES); the PDF is kept sealed
    until the request ends. What the device signs (``to_be_signed``, the DER of the signed
    attributes) is fixed when a device opens the request, for that device's certificate.
    """

    __tablename__ = "idp_signature_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str] = mapped_column(ForeignKey("idp_accounts.id", ondelete="CASCADE"))
    document_sha256: Mapped[str] = mapped_column(String(64))  # hex
    summary_sealed: Mapped[str] = mapped_column(Text)  # JSON {"en", "zh"}, sealed
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(32))
    certificate_serial: Mapped[str | None] = mapped_column(String(40))
    to_be_signed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # kind pdf: the department's PDF, then the PDF prepared for signing (both sealed), and
    # where in the prepared PDF the signature goes.
    document_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    prepared_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reserved_start: Mapped[int | None] = mapped_column(Integer)
    reserved_end: Mapped[int | None] = mapped_column(Integer)
    result_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # the CMS, or the signed PDF
    last_polled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_idp_signature_requests_account", "account_id", "status"),
        Index("ix_idp_signature_requests_client", "client_id", "created_at"),
    )
