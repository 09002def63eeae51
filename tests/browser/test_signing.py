"""Digital signing in Chromium with the app simulator: a resident proofed in person binds the
app and gets a certificate, submits a licence application in the forms hub, signs it in the
app while the receipt page waits, then checks the signed receipt on the public page; their
account page lists the certificate."""

from __future__ import annotations

from datetime import date

import pytest

from devtools.phone_app import PhoneApp
from egate.demo import seed_forms_hub, seed_phone_app_client
from identity.accounts.models import Account
from identity.clients.models import Client
from identity.proofing import service as proofing
from identity.proofing.schemas import CheckedValues
from identity.residents.hkid import normalise_hkid
from identity.signing.demo import seed_signing_ca
from kit.db import session_scope
from tests.forms_hub.conftest import PDF, restaurant_answers
from tests.identity.accounts.factories import keyring_of
from tests.identity.proofing.factories import create_registrar

pytestmark = pytest.mark.browser


def proofed_resident_with_phone(site, tmp_path) -> tuple[dict, PhoneApp]:
    runtime = site.runtime
    resident = site.new_resident()
    for db in session_scope(runtime.sessions):
        seed_signing_ca(db, runtime.settings, runtime.master_key, runtime.clock())
        seed_phone_app_client(db, runtime)
        seed_forms_hub(db, runtime)
        hub = db.get(Client, "forms-hub")
        if hub is not None and "signing" not in hub.allowed_scopes:
            hub.allowed_scopes = [*hub.allowed_scopes, "signing"]
        keyring, now = keyring_of(runtime), runtime.clock()
        account = db.get(Account, resident["id"])
        values = CheckedValues(
            hkid=normalise_hkid(resident["hkid"]),
            name="LEE Siu Ming",
            name_zh=None,
            birthdate=date(1985, 1, 2),
            gender="female",
        )
        code, _ = proofing.issue_counter_code(db, keyring, account, now)
        officer = create_registrar(db, runtime)
        proofing.proof_in_person(db, keyring, officer, account, code, values, None, now, notify=False)
    phone = PhoneApp(site.base_url, tmp_path / "phone.json")
    phone.sign_in_and_bind(resident["hkid"], resident["password"])
    phone.request_signing_certificate()
    return resident, phone


def test_a_licence_application_signed_in_the_app_and_checked_on_the_public_page(site, page, tmp_path):
    resident, phone = proofed_resident_with_phone(site, tmp_path)

    page.goto(site.url("/forms/auth/login"))
    page.fill("#identifier", resident["hkid"])
    page.fill("#password", resident["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/forms/**")
    api = page.request
    draft = api.post(
        site.url("/forms/api/submissions"),
        data={"form": "food-business-licence", "answers": restaurant_answers()},
    ).json()
    uploaded = api.post(
        site.url(f"/forms/api/submissions/{draft['id']}/attachments"),
        multipart={
            "name": "layout_plan",
            "file": {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF},
        },
    )
    assert uploaded.status == 201, uploaded.text()
    submitted = api.post(site.url(f"/forms/api/submissions/{draft['id']}/submit"))
    assert submitted.ok, submitted.text()

    page.goto(site.url(f"/forms/submissions/{draft['id']}/receipt"))
    assert "needs your digital signature" in page.locator("#signature").inner_text()
    [waiting] = phone.documents()
    phone.sign_document(waiting["request_id"])
    page.wait_for_selector("#signed-receipt", timeout=20_000)  # the page refreshed itself
    assert "Signed by LEE Siu Ming at" in page.locator("#signature").inner_text()
    page.screenshot(path=str(tmp_path / "signed-receipt.png"), full_page=True)
    signed_pdf = api.get(site.url(f"/forms/submissions/{draft['id']}/receipt.pdf")).body()

    page.goto(site.url("/forms/receipts/verify"))
    page.set_input_files(
        "#receipt_pdf", files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": signed_pdf}]
    )
    page.locator("form[action='/forms/receipts/verify-pdf'] button").click()
    verdict = page.locator("#pdf-result").inner_text()
    assert (
        "The signature is genuine" in verdict and "LEE Siu Ming" in verdict and "certificate valid" in verdict
    )

    page.goto(site.url("/account/signing"))
    assert page.locator("#certificates .certificate-status").first.inner_text() == "Valid"
