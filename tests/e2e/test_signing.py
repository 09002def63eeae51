"""Digital signing end to end over HTTP, on SQLite and PostgreSQL: a resident proofed in
person binds the app (devtools.phone_app, HTTP only) and gets a certificate; a department
(httpx with its client credentials) asks for signatures over a hash and over a PDF; the
results verify with `openssl cms -verify` and `pyhanko sign validate` against the published
CA certificate, and fail with one byte changed; declining signs nothing; removing the device
makes the live OCSP responder (asked by `openssl ocsp`) and the CRL say revoked; a
self-asserted resident gets no certificate."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from devtools.phone_app import AppError, PhoneApp
from egate.demo import seed_phone_app_client
from forms_hub.demo import seed_demo_forms
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import SESSION_COOKIE, create_session_for_tests, set_client_credentials
from identity.accounts.models import Account
from identity.accounts.service import account_hkid
from identity.clients.service import get_client
from identity.devices import service as devices
from identity.proofing import service as proofing
from identity.proofing.schemas import CheckedValues
from identity.residents.hkid import format_hkid
from identity.signing.demo import seed_signing_ca
from identity.tokens import repository as tokens_repository
from kit.db import session_scope
from tests.forms_hub.conftest import PDF, restaurant_answers
from tests.identity.accounts.factories import keyring_of
from tests.identity.proofing.factories import create_registrar
from tests.identity.signing.factories import tiny_pdf

PASSWORD = "a long demo passphrase"
OPENSSL = "/usr/bin/openssl"
PYHANKO = shutil.which("pyhanko") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pyhanko")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, check=False)


def resident_with_phone(gateway, tmp_path: Path, *, in_person: bool) -> tuple[str, PhoneApp]:
    runtime = gateway.runtime
    account_id = gateway.new_resident(PASSWORD)
    for db in session_scope(runtime.sessions):
        seed_phone_app_client(db, runtime)
        account = db.get(Account, account_id)
        keyring = keyring_of(runtime)
        hkid = account_hkid(keyring, account)
        if in_person:
            officer = create_registrar(db, runtime)
            values = CheckedValues(
                hkid=hkid, name="CHAN Tai Man", name_zh="陳大文", birthdate=date(1980, 5, 17), gender="male"
            )
            code, _ = proofing.issue_counter_code(db, keyring, account, runtime.clock())
            proofing.proof_in_person(
                db, keyring, officer, account, code, values, None, runtime.clock(), notify=False
            )
    phone = PhoneApp(gateway.base_url, tmp_path / f"phone-{secrets.token_hex(3)}.json")
    phone.sign_in_and_bind(format_hkid(hkid), PASSWORD, device_name="Test phone")
    return account_id, phone


@dataclass
class Department:
    client_id: str
    http: httpx.Client


@pytest.fixture
def department(gateway) -> Iterator[Department]:
    """A department registered for signing (the CA is created first, once)."""
    runtime = gateway.runtime
    for db in session_scope(runtime.sessions):
        seed_signing_ca(db, runtime.settings, runtime.master_key, runtime.clock())
    client_id, secret = gateway.register_client(allowed_scopes=("openid", "signing"), department="FEHD")
    with httpx.Client(base_url=gateway.base_url, auth=(client_id, secret or ""), timeout=15) as http:
        yield Department(client_id, http)


def knows(gateway, department: Department, account_id: str, sub: str) -> None:
    """The department received ``sub`` for the resident (as at a sign-in)."""
    for db in session_scope(gateway.runtime.sessions):
        client = get_client(db, department.client_id)
        assert client is not None
        tokens_repository.remember_subject(db, client.sector_identifier, sub, account_id)


def ask(department: Department, sub: str, **document: str) -> str:
    body = {
        "login_hint": sub,
        "summary_en": "Food business licence FB-0042",
        "summary_zh": "食物業牌照 FB-0042",
    }
    response = department.http.post("/signing/requests", json={**body, **document})
    assert response.status_code == 201, response.text
    return str(response.json()["request_id"])


def result(department: Department, request_id: str) -> dict:
    response = department.http.get(f"/signing/requests/{request_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_sign_verify_with_standard_tools_decline_and_revoke(gateway, department, tmp_path):
    account_id, phone = resident_with_phone(gateway, tmp_path, in_person=True)
    issued = phone.request_signing_certificate()
    (tmp_path / "user.pem").write_text(issued["certificate"])
    ca = httpx.get(f"{gateway.base_url}/signing/ca.pem", timeout=10)
    assert ca.status_code == 200 and ca.content.startswith(b"-----BEGIN CERTIFICATE-----")
    (tmp_path / "ca.pem").write_bytes(ca.content)
    sub = f"sub-{secrets.token_hex(4)}"
    knows(gateway, department, account_id, sub)

    # The department must authenticate, with its own secret.
    anonymous = httpx.post(f"{gateway.base_url}/signing/requests", json={}, timeout=10)
    assert anonymous.status_code in (401, 422)
    wrong = httpx.post(
        f"{gateway.base_url}/signing/requests",
        json={"login_hint": sub, "summary_en": "x", "summary_zh": "x", "document_sha256": "0" * 64},
        auth=(department.client_id, "wrong"),
        timeout=10,
    )
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")

    # A hash: detached CMS, verified by openssl.
    document = b"Food business licence application FB-0042\n"
    (tmp_path / "doc").write_bytes(document)
    request_id = ask(department, sub, document_sha256=hashlib.sha256(document).hexdigest())
    assert result(department, request_id)["status"] == "pending"
    waiting = phone.documents()
    assert [d["request_id"] for d in waiting] == [request_id]
    assert waiting[0]["summary_zh"] == "食物業牌照 FB-0042"
    assert phone.sign_document(request_id)["status"] == "approved"
    answer = result(department, request_id)
    assert answer["status"] == "approved" and answer["certificate"] == issued["certificate"]
    (tmp_path / "sig.p7s").write_bytes(base64.b64decode(answer["signature"]))
    verify = (OPENSSL, "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s")
    ok = run(*verify, "-content", tmp_path / "doc", "-CAfile", tmp_path / "ca.pem", "-out", "/dev/null")
    assert ok.returncode == 0 and "Verification successful" in ok.stderr, ok.stderr
    (tmp_path / "doc").write_bytes(document.replace(b"0042", b"0043"))
    bad = run(*verify, "-content", tmp_path / "doc", "-CAfile", tmp_path / "ca.pem", "-out", "/dev/null")
    assert bad.returncode != 0

    # A PDF: PAdES, validated by pyHanko's CLI, which asks the live OCSP responder.
    pdf = tiny_pdf("Receipt FB-0042")
    pdf_request = ask(department, sub, kind="pdf", document_pdf=base64.b64encode(pdf).decode())
    assert phone.sign_document(pdf_request)["status"] == "approved"
    signed_pdf = base64.b64decode(result(department, pdf_request)["signed_pdf"])
    (tmp_path / "receipt.pdf").write_bytes(signed_pdf)
    validate = (PYHANKO, "sign", "validate", "--trust", tmp_path / "ca.pem", "--trust-replace")
    valid = run(*validate, tmp_path / "receipt.pdf")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "INTACT:TRUSTED" in valid.stdout
    tampered = bytearray(signed_pdf)
    tampered[pdf.index(b"Receipt")] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))
    assert run(*validate, tmp_path / "tampered.pdf").returncode != 0

    # The TSA answers standard RFC 3161 queries.
    run(OPENSSL, "ts", "-query", "-data", tmp_path / "doc", "-sha256", "-cert", "-out", tmp_path / "q.tsq")
    stamped = httpx.post(
        f"{gateway.base_url}/signing/tsa",
        content=(tmp_path / "q.tsq").read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        timeout=10,
    )
    assert stamped.headers["content-type"] == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(stamped.content)
    checked = run(
        OPENSSL,
        "ts",
        "-verify",
        "-in",
        tmp_path / "r.tsr",
        "-queryfile",
        tmp_path / "q.tsq",
        "-CAfile",
        tmp_path / "ca.pem",
    )
    assert "Verification: OK" in checked.stdout, checked.stderr

    # Declining signs nothing.
    declined = ask(department, sub, document_sha256="ab" * 32)
    assert phone.decline_document(declined)["status"] == "declined"
    answer = result(department, declined)
    assert answer["status"] == "declined" and answer.get("signature") is None

    # Removing the device revokes the certificate: OCSP (asked by openssl) and the CRL say so.
    ocsp = (OPENSSL, "ocsp", "-issuer", tmp_path / "ca.pem", "-cert", tmp_path / "user.pem")
    ocsp_args = ("-url", f"{gateway.base_url}/signing/ocsp", "-CAfile", tmp_path / "ca.pem")
    before = run(*ocsp, *ocsp_args)
    assert "user.pem: good" in before.stdout and "Response verify OK" in before.stderr, before.stderr
    for db in session_scope(gateway.runtime.sessions):
        devices.remove_device(
            db, gateway.runtime.clock(), account_id=account_id, device_id=phone.state["device_id"], meta=None
        )
    after = run(*ocsp, *ocsp_args)
    assert "user.pem: revoked" in after.stdout and "Reason: cessationOfOperation" in after.stdout, (
        after.stdout
    )
    (tmp_path / "crl.der").write_bytes(httpx.get(f"{gateway.base_url}/signing/crl", timeout=10).content)
    listed = run(OPENSSL, "crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-text")
    assert issued["serial"].upper() in listed.stdout.replace(":", "")


def test_a_self_asserted_resident_gets_no_signing_certificate(gateway, department, tmp_path):
    _, phone = resident_with_phone(gateway, tmp_path, in_person=False)
    with pytest.raises(AppError, match="403"):
        phone.request_signing_certificate()
    assert "signing_key" not in phone.state


def test_a_licence_application_is_signed_at_submit_and_checked_by_officers_and_anyone(
    gateway, department, tmp_path
):
    """The forms hub asks for the signature over HTTP with its own client; the resident signs
    the receipt PDF in the app; the officer sees who signed and the certificate's status; the
    public page checks the signed PDF; removing the device shows the certificate revoked."""
    base, runtime = gateway.base_url, gateway.runtime
    account_id, phone = resident_with_phone(gateway, tmp_path, in_person=True)
    phone.request_signing_certificate()
    hub_id, hub_secret = gateway.register_client(
        client_id=f"forms-hub-{secrets.token_hex(4)}",
        department="FORMSHUB",
        redirect_uris=[f"{base}/forms/auth/callback"],
        allowed_scopes=("openid", "profile", "signing"),
        subject_type="public",
        first_party=True,
    )
    keys = RelyingPartyKeys(runtime.master_key)
    for db in session_scope(runtime.sessions):
        set_client_credentials(db, runtime.master_key, hub_id, hub_secret or "", runtime.clock())
        seed_demo_forms(db, runtime.clock())
        hub = get_client(db, hub_id)
        assert hub is not None
        tokens_repository.remember_subject(db, hub.sector_identifier, account_id, account_id)
        resident_cookie = create_session_for_tests(db, keys, account_id, runtime.clock(), timedelta(hours=1))
        officer_cookie = create_session_for_tests(
            db, keys, "officer-1", runtime.clock(), timedelta(hours=1), roles=["officer"], department="FEHD"
        )
    resident = httpx.Client(base_url=base, cookies={SESSION_COOKIE: resident_cookie}, timeout=15)
    officer = httpx.Client(base_url=base, cookies={SESSION_COOKIE: officer_cookie}, timeout=15)

    draft = resident.post(
        "/forms/api/submissions", json={"form": "food-business-licence", "answers": restaurant_answers()}
    ).json()
    upload = resident.post(
        f"/forms/api/submissions/{draft['id']}/attachments",
        data={"name": "layout_plan"},
        files={"file": ("plan.pdf", PDF, "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    submitted = resident.post(f"/forms/api/submissions/{draft['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    reference = submitted.json()["reference"]

    receipt = resident.get(f"/forms/submissions/{draft['id']}/receipt")
    assert "needs your digital signature" in receipt.text and receipt.headers.get("refresh")
    [waiting] = phone.documents()
    assert reference in waiting["summary_en"] and reference in waiting["summary_zh"]
    assert phone.sign_document(waiting["request_id"])["status"] == "approved"
    receipt = resident.get(f"/forms/submissions/{draft['id']}/receipt")
    assert "Signed by CHAN Tai Man at" in receipt.text and "refresh" not in receipt.headers
    signed_pdf = resident.get(f"/forms/submissions/{draft['id']}/receipt.pdf")
    assert signed_pdf.headers["content-type"] == "application/pdf"
    assert reference.encode() in signed_pdf.content and b"Answers fingerprint" in signed_pdf.content

    case = officer.get(f"/forms/officer/cases/{reference}")
    assert "Signed by CHAN Tai Man at" in case.text and "certificate valid" in case.text
    assert officer.get(f"/forms/officer/cases/{reference}/receipt.pdf").content == signed_pdf.content

    def check(pdf: bytes) -> httpx.Response:
        return httpx.post(
            f"{base}/forms/receipts/verify-pdf",
            files={"receipt_pdf": ("receipt.pdf", pdf, "application/pdf")},
            timeout=30,
        )

    genuine = check(signed_pdf.content)
    assert genuine.status_code == 200 and "The signature is genuine" in genuine.text
    assert "certificate valid" in genuine.text and "CHAN Tai Man" in genuine.text
    changed = bytearray(signed_pdf.content)
    changed[signed_pdf.content.index(reference.encode())] ^= 0x01
    assert "The signature does not hold" in check(bytes(changed)).text

    for db in session_scope(runtime.sessions):
        devices.remove_device(
            db, runtime.clock(), account_id=account_id, device_id=phone.state["device_id"], meta=None
        )
    assert "certificate revoked" in officer.get(f"/forms/officer/cases/{reference}").text
    assert "certificate revoked" in check(signed_pdf.content).text
