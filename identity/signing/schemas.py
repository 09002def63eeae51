"""Request and response bodies of the signing APIs (the department's and the app's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SignatureRequestIn(BaseModel):
    """A department asks the resident it knows by ``login_hint`` to sign a document."""

    model_config = ConfigDict(extra="forbid")

    login_hint: str = Field(max_length=64, description="The resident's sub, as this client received it")
    kind: str = Field(
        default="cms",
        pattern="^(cms|pdf)$",
        description="cms: a detached CMS over a hash; pdf: a PAdES-signed PDF",
    )
    document_sha256: str | None = Field(
        default=None, pattern="^[0-9a-fA-F]{64}$", description="kind cms: SHA-256 of the document, hex"
    )
    document_pdf: str | None = Field(
        default=None, max_length=700_000, description="kind pdf: the PDF, base64 (at most 512 KiB decoded)"
    )
    summary_en: str = Field(max_length=500, description="What the resident signs, in English")
    summary_zh: str = Field(max_length=500, description="What the resident signs, in Traditional Chinese")
    expires_in: int | None = Field(
        default=None, ge=60, le=900, description="Seconds the resident has to answer"
    )


class SignatureRequestCreated(BaseModel):
    request_id: str
    expires_in: int
    interval: int = Field(description="Seconds to wait between two polls")


class SignatureRequestResult(BaseModel):
    request_id: str
    status: str = Field(description="pending | approved | declined | expired")
    kind: str
    document_sha256: str
    decided_at: str | None = None
    signature: str | None = Field(
        default=None, description="kind cms, approved: the detached CMS SignedData (DER), base64"
    )
    signed_pdf: str | None = Field(default=None, description="kind pdf, approved: the signed PDF, base64")
    certificate: str | None = Field(default=None, description="approved: the signer's certificate, PEM")


class SignedByDevice(BaseModel):
    """A request signed by the bound device's key (identity/devices/signatures.py)."""

    signed: str = Field(description="Compact JWS, typ egate-device+jwt")


class CertificateRequestIn(SignedByDevice):
    csr: str = Field(description="PKCS #10 request (DER, base64url) for the signing key the device generated")


class CertificateOut(BaseModel):
    serial: str
    certificate: str = Field(description="PEM")
    chain: list[str] = Field(description="The CA certificate and any issuer above it, PEM")
    not_after: str


class RevocationIn(SignedByDevice):
    serial: str


class SignatureDecisionIn(SignedByDevice):
    decision: str = Field(pattern="^(approve|decline)$")
    signature: str | None = Field(
        default=None,
        description="approve: ECDSA-SHA256 (DER) by the signing key over to_be_signed, base64url",
    )


class PendingSignature(BaseModel):
    request_id: str
    kind: str
    department: str
    client_name: str
    summary_en: str
    summary_zh: str
    document_sha256: str
    expires_at: int
    to_be_signed: str | None = Field(
        default=None, description="After a view: the DER signed attributes, base64url"
    )
    certificate_serial: str | None = None


class DecisionOut(BaseModel):
    status: str
