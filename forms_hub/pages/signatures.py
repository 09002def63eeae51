"""Digital signatures on the pages: the resident's receipt asks for the signature right after
submission and follows it until the resident answered in the app; the signed receipt PDF for
the resident and the department's officers; the public check of a signed receipt PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from forms_hub import i18n as hub_i18n
from forms_hub.access import Visitor
from forms_hub.crypto import Sealer
from forms_hub.definitions.service import document_of
from forms_hub.dependencies import AnswerSealer, SigningDep
from forms_hub.errors import FormsError
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import NotConfigured, client_credentials
from forms_hub.signatures import service as signatures
from forms_hub.signatures.provider import Credentials, SigningProvider, SigningUnavailable
from forms_hub.submissions import service as submissions
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import definition_of
from forms_hub.web.page_helpers import (
    page_router,
    refused,
    sign_in_redirect,
    signed_in_officer,
    signed_in_resident,
)
from forms_hub.web.rendering import render
from kit.i18n import N_, choose_language
from kit.web import DbSession, Now
from kit.worker_threads import in_worker_thread

router = page_router()
REFRESH_SECONDS = 3
PDF_FIELD = "receipt_pdf"

SIGNING_UNAVAILABLE = N_("The signing service cannot be reached just now. Try again later.")


def _credentials(db: Session, keys: RelyingPartyKeys) -> Credentials | None:
    try:
        client_id, secret = client_credentials(db, keys)
    except NotConfigured:
        return None
    return Credentials(client_id, secret)


def signature_context(
    db: Session,
    signing: SigningProvider,
    keys: RelyingPartyKeys,
    sealer: Sealer,
    submission: Submission,
    view: dict[str, Any],
    now: datetime,
    *,
    for_officer: bool,
) -> dict[str, Any] | None:
    """The signature of a submitted form that requires one (None for other forms). The
    resident's first look asks the provider for it; every look at a pending one asks how it
    stands. The provider is called with no transaction open."""
    if submission.submitted_at is None or not document_of(definition_of(db, submission)).signature_required:
        return None
    row = signatures.signature_of(db, submission.id)
    if row is None and for_officer:
        return {"status": "missing"}
    if row is None or row.status == signatures.PENDING:
        request_id = row.request_id if row is not None else None
        credentials = _credentials(db, keys)
        # No transaction open while the provider works: on SQLite it needs the write lock.
        db.commit()
        if credentials is None:
            return {"status": signatures.UNAVAILABLE, "detail": "the forms hub has no client at the provider"}
        if row is None:
            row = signatures.ask(db, signing, credentials, view, submission.resident_sub, now)
        elif request_id is not None:
            answer = signatures.outcome(signing, credentials, request_id)
            row = signatures.record(sealer, signatures.signature_of(db, submission.id) or row, answer, now)
        db.commit()
    described = signatures.describe(sealer, row)
    certificate = described.pop("certificate", None)
    if for_officer and certificate:
        db.commit()
        described["certificate_status"] = signatures.certificate_status(signing, certificate)
    return described


def pdf_response(pdf: bytes, reference: str) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{reference}.pdf"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _signed_pdf(db: Session, sealer: Sealer, submission: Submission) -> Response | None:
    row = signatures.signature_of(db, submission.id)
    pdf = signatures.signed_pdf(sealer, row) if row is not None else None
    return pdf_response(pdf, submission.reference or submission.id) if pdf else None


@router.get("/submissions/{submission_id}/receipt.pdf")
def resident_receipt_pdf(
    request: Request, submission_id: str, visitor: Visitor, db: DbSession, sealer: AnswerSealer, now: Now
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_own(db, resident, submission_id, now)
    except FormsError as exc:
        return refused(request, db, exc)
    return _signed_pdf(db, sealer, submission) or Response(status_code=404)


@router.get("/officer/cases/{reference}/receipt.pdf")
def officer_receipt_pdf(
    request: Request, reference: str, visitor: Visitor, db: DbSession, sealer: AnswerSealer
) -> Response:
    officer = signed_in_officer(visitor)
    if officer is None:
        return sign_in_redirect(request)
    try:
        submission = submissions.get_for_department(db, officer, reference[:40])
    except FormsError as exc:
        return refused(request, db, exc)
    return _signed_pdf(db, sealer, submission) or Response(status_code=404)


@router.post("/receipts/verify-pdf")
async def verify_signed_receipt(request: Request, signing: SigningDep) -> Response:
    """Anyone may check a signed receipt PDF: intact, signed under the provider's signing
    CA, time-stamped; who signed and when; whether the certificate is valid now."""
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get(PDF_FIELD)
    data = await upload.read(signatures.MAX_PDF_BYTES + 1) if isinstance(upload, UploadFile) else b""

    language = choose_language(request)

    def check() -> dict[str, Any]:
        try:
            return {"pdf_result": signatures.verify_pdf(signing, data)}
        except ValueError as exc:  # its message is a msgid (forms_hub.signatures.service)
            return {"pdf_failure": hub_i18n.gettext(language, str(exc))}
        except SigningUnavailable:
            return {"pdf_failure": hub_i18n.gettext(language, SIGNING_UNAVAILABLE)}

    context = await in_worker_thread(check)
    return render(request, "receipt_verify.html", context, status=200 if "pdf_result" in context else 422)
