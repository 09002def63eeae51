"""A form that requires a signature: once submitted, the hub asks the provider for the
resident's signature over the receipt PDF (``receipt_pdf``), keeps the signed PDF sealed, and
tells officers who signed, when, and whether the certificate is still valid. Anyone may check
a signed receipt PDF on the public verification page.

Every call to the provider is made with no transaction open (the callers commit first, as
every handler of the hub that calls the provider does)."""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.signatures.models import SubmissionSignature
from forms_hub.signatures.provider import Credentials, SigningProvider, SigningUnavailable
from forms_hub.signatures.receipt_pdf import receipt_pdf
from kit.i18n import CATALOGUES, CHINESE, ENGLISH, LANGUAGES, N_, bilingual, department_name

PENDING, APPROVED, UNAVAILABLE = "pending", "approved", "unavailable"
MAX_PDF_BYTES = 1024 * 1024


def _context(submission_id: str) -> str:
    return f"signature:{submission_id}"


def signature_of(db: Session, submission_id: str) -> SubmissionSignature | None:
    return db.get(SubmissionSignature, submission_id)


def ask(
    db: Session,
    signing: SigningProvider,
    credentials: Credentials,
    view: dict[str, Any],
    sub: str,
    now: datetime,
) -> SubmissionSignature:
    """Ask the provider for the resident's signature over the receipt of ``view`` (a submitted
    submission's view); a refusal (no signing certificate, the provider down) is kept as
    ``unavailable`` with the reason, and the submission stands."""
    form = view["form"]
    code = view["department"]
    department = {lang: department_name(CATALOGUES.translations(lang), code) for lang in LANGUAGES}
    summary = bilingual(
        N_("Application {reference}: {title} ({department})"),
        reference=view["reference"],
        title=form["title"],
        department=department,
    )
    summary_en, summary_zh = summary[ENGLISH], summary[CHINESE]
    try:
        request_id: str | None = signing.ask(
            credentials, sub=sub, pdf=receipt_pdf(view), summary_en=summary_en, summary_zh=summary_zh
        )
        status, detail = PENDING, None
    except SigningUnavailable as exc:
        request_id, status, detail = None, UNAVAILABLE, str(exc)[:500]
    row = SubmissionSignature(
        submission_id=view["id"],
        request_id=request_id,
        status=status,
        detail=detail,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    return row


def outcome(signing: SigningProvider, credentials: Credentials, request_id: str) -> dict[str, Any] | None:
    """How the provider says a request stands (None when it cannot be asked just now)."""
    try:
        return signing.result(credentials, request_id)
    except SigningUnavailable:
        return None


def record(
    sealer: Sealer, row: SubmissionSignature, answer: dict[str, Any] | None, now: datetime
) -> SubmissionSignature:
    """Keep what the provider answered; the signed PDF once approved."""
    status = str((answer or {}).get("status", PENDING))
    if answer is None or status == PENDING:
        return row
    if status == APPROVED:
        pdf = base64.b64decode(str(answer.get("signed_pdf", "")))
        certificate = x509.load_pem_x509_certificate(str(answer.get("certificate", "")).encode())
        signed = {
            "pdf": base64.b64encode(pdf).decode(),
            "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "signer": _common_name(certificate),
            "signed_at": answer.get("decided_at"),
        }
        row.signed_sealed = sealer.seal(signed, _context(row.submission_id))
    row.status = status[:16]
    row.updated_at = now
    return row


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def signed(sealer: Sealer, row: SubmissionSignature) -> dict[str, Any] | None:
    if row.signed_sealed is None:
        return None
    opened: dict[str, Any] = sealer.open(row.signed_sealed, _context(row.submission_id))
    return opened


def signed_pdf(sealer: Sealer, row: SubmissionSignature) -> bytes | None:
    content = signed(sealer, row)
    return base64.b64decode(content["pdf"]) if content else None


def describe(sealer: Sealer, row: SubmissionSignature) -> dict[str, Any]:
    """What a page shows: the status and, once signed, who signed and when."""
    described: dict[str, Any] = {"status": row.status, "detail": row.detail}
    content = signed(sealer, row)
    if content:
        described.update(
            signer=content["signer"], signed_at=content["signed_at"], certificate=content["certificate"]
        )
    return described


def certificate_status(signing: SigningProvider, certificate_pem: str) -> str | None:
    """The certificate's status now, from the provider's OCSP responder (None: no answer)."""
    try:
        return signing.status(x509.load_pem_x509_certificate(certificate_pem.encode()))
    except SigningUnavailable:
        return None


def verify_pdf(signing: SigningProvider, pdf: bytes) -> dict[str, Any]:
    """Check a signed receipt PDF: intact, signed under the provider's signing CA, with a
    trusted time-stamp; who signed it, when, and the certificate's status now.

    Raises:
        SigningUnavailable: the CA certificate or the certificate status cannot be had.
        ValueError: not a PDF with a signature (the message is safe to show).
    """
    if not pdf.startswith(b"%PDF-") or len(pdf) > MAX_PDF_BYTES:
        raise ValueError(N_("not a PDF of up to 1 MB"))
    trust = [_asn1(c) for c in signing.ca_certificates()]
    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError):
        raise ValueError(N_("the PDF cannot be read")) from None
    if not signatures:
        raise ValueError(N_("the PDF carries no signature"))
    embedded = signatures[-1]
    context = ValidationContext(trust_roots=trust, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(embedded, signer_validation_context=context)
    except Exception:  # pyHanko raises many kinds for a damaged signature
        raise ValueError(N_("the signature cannot be validated")) from None
    certificate = x509.load_der_x509_certificate(status.signing_cert.dump())
    timestamp = status.timestamp_validity
    covers_all = embedded.coverage is not None and embedded.coverage.name == "ENTIRE_FILE"
    result: dict[str, Any] = {
        "intact": bool(status.intact and status.valid),
        "trusted": bool(status.trusted),
        "covers_whole_file": covers_all,
        "signer": _common_name(certificate),
        "signed_at": timestamp.timestamp.isoformat() if timestamp is not None and timestamp.trusted else None,
    }
    result["certificate_status"] = signing.status(certificate) if result["trusted"] else None
    result["genuine"] = bool(result["intact"] and result["trusted"] and covers_all and result["signed_at"])
    return result


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
