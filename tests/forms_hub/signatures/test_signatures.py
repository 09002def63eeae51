"""A form that requires a signature, against the fake provider (which has no signing API): the
receipt PDF names fingerprints and never answers; a signature that cannot be asked for is
recorded as such and the submission stands. The real provider: tests/e2e/test_signing.py."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from forms_hub.signatures.models import SubmissionSignature
from forms_hub.signatures.receipt_pdf import receipt_pdf
from tests.forms_hub.conftest import PDF, restaurant_answers, sign_in

VIEW = {
    "id": "s1",
    "reference": "FEHD-2026-ABCDEFG",
    "form": {
        "title": {"en": "Application for a general restaurant licence (A)", "zh-HK": "申請"},
        "version": 3,
    },
    "department": "FEHD",
    "submitted_at": "2026-12-01T10:00:00+00:00",
    "answers_sha256": "ab" * 32,
    "attachments": [{"filename": "plan.pdf", "sha256": "cd" * 32}],
    "answers": {"applicant_name": "CHAN Tai Man"},
}


def test_the_receipt_pdf_names_fingerprints_and_never_the_answers():
    text = PdfReader(io.BytesIO(receipt_pdf(VIEW))).pages[0].extract_text()
    assert "FEHD-2026-ABCDEFG" in text and "ab" * 32 in text and "cd" * 32 in text
    assert "(A) (version 3)" in text
    assert "CHAN Tai Man" not in text


def test_a_signature_that_cannot_be_asked_for_is_recorded_and_the_submission_stands(
    client, provider, resident, db
):
    draft = client.post(
        "/forms/api/submissions", json={"form": "food-business-licence", "answers": restaurant_answers()}
    ).json()
    upload = client.post(
        f"/forms/api/submissions/{draft['id']}/attachments",
        data={"name": "layout_plan"},
        files={"file": ("plan.pdf", PDF, "application/pdf")},
    )
    assert upload.status_code == 201
    reference = client.post(f"/forms/api/submissions/{draft['id']}/submit").json()["reference"]
    receipt = client.get(f"/forms/submissions/{draft['id']}/receipt")
    assert receipt.status_code == 200 and reference in receipt.text
    assert "Your signature could not be asked for" in receipt.text and "refresh" not in receipt.headers
    row = db.scalars(
        select(SubmissionSignature).where(SubmissionSignature.submission_id == draft["id"])
    ).one()
    assert row.status == "unavailable" and row.request_id is None and row.signed_sealed is None
    assert client.get(f"/forms/submissions/{draft['id']}/receipt.pdf").status_code == 404

    sign_in(client, provider, "officer-fehd", roles=["officer"], department="FEHD")
    case = client.get(f"/forms/officer/cases/{reference}")
    assert case.status_code == 200 and "Not signed." in case.text


def test_the_public_page_refuses_what_is_not_a_signed_pdf(client):
    page = client.get("/forms/receipts/verify")
    assert 'action="/forms/receipts/verify-pdf"' in page.text
    refused = client.post(
        "/forms/receipts/verify-pdf", files={"receipt_pdf": ("x.pdf", b"not a pdf", "application/pdf")}
    )
    assert refused.status_code == 422 and "The signature cannot be checked" in refused.text
