"""The signing routes through FastAPI's TestClient: what is published before and after the CA
exists, the department API's authentication and refusals, the app API's refusals, and the
resident's page with its CSRF-protected revocation."""

from __future__ import annotations

import base64
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from starlette.testclient import TestClient

from identity.clients.service import Registration, register
from identity.signing import authority, service
from tests.identity.accounts.factories import Browser, keyring_of, pages_app
from tests.identity.signing.factories import (
    b64url,
    bind_phone,
    csr_claim,
    proofed_resident_and_form,
    signing_of,
)


def department(db, runtime, clock, scopes=("openid", "signing")):
    client, secret = register(
        db,
        runtime.master_key,
        Registration(
            name="Dept", department="DEPT", redirect_uris=["https://d.example/cb"], allowed_scopes=scopes
        ),
        clock.now,
    )
    db.commit()
    return client.client_id, secret


def test_published_endpoints_before_and_after_the_ca_exists(db, runtime, clock):
    client = TestClient(pages_app(runtime))
    refused = client.get("/signing/ca.pem")
    assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:egate:signing:not_initialised"
    assert [client.get(path).status_code for path in ("/signing/ca.crt", "/signing/crl")] == [404, 404]
    later = client.post(
        "/signing/ocsp", content=b"\x30\x00", headers={"Content-Type": "application/ocsp-request"}
    )
    assert ocsp.load_der_ocsp_response(later.content).response_status == ocsp.OCSPResponseStatus.TRY_LATER

    authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    db.commit()
    pem = client.get("/signing/ca.pem")
    assert pem.status_code == 200 and pem.headers["content-type"] == "application/pem-certificate-chain"
    assert pem.headers["cache-control"] == "public, max-age=3600"
    ca = x509.load_pem_x509_certificate(pem.content)
    assert x509.load_der_x509_certificate(client.get("/signing/ca.crt").content) == ca
    crl = client.get("/signing/crl")
    assert crl.headers["content-type"] == "application/pkix-crl"
    assert crl.headers["cache-control"] == "public, max-age=60"
    assert x509.load_der_x509_crl(crl.content).is_signature_valid(ca.public_key())  # type: ignore[arg-type]

    tsa = signing_of(runtime).store.current(db).tsa.certificate
    request = ocsp.OCSPRequestBuilder().add_certificate(tsa, ca, hashes.SHA256()).build()
    encoded = quote(base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode(), safe="")
    answer = client.get(f"/signing/ocsp/{encoded}")
    assert answer.headers["content-type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(answer.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    wrong_type = client.post("/signing/tsa", content=b"\x30\x00", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415


def test_the_department_api_needs_a_client_registered_for_signing(db, runtime, clock):
    authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    client = TestClient(pages_app(runtime))
    body = {"login_hint": "someone", "document_sha256": "a" * 64, "summary_en": "A", "summary_zh": "甲"}
    anonymous = client.post("/signing/requests", json=body)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == 'Basic realm="signing"'
    signer_id, signer_secret = department(db, runtime, clock)
    assert client.post("/signing/requests", json=body, auth=(signer_id, "wrong")).status_code == 401
    other_id, other_secret = department(db, runtime, clock, scopes=("openid",))
    not_registered = client.post("/signing/requests", json=body, auth=(other_id, other_secret))
    assert not_registered.status_code == 403
    assert not_registered.json()["type"] == "urn:egate:signing:unauthorized_client"

    unknown = client.post("/signing/requests", json=body, auth=(signer_id, signer_secret))
    assert unknown.status_code == 400 and unknown.json()["type"] == "urn:egate:signing:unknown_user"
    malformed = client.post(
        "/signing/requests", json={**body, "document_sha256": "xyz"}, auth=(signer_id, signer_secret)
    )
    assert malformed.status_code == 422
    missing = client.get("/signing/requests/nope", auth=(signer_id, signer_secret))
    assert missing.status_code == 404


def test_the_app_api_checks_the_devices_signature_and_the_residents_proofing(db, runtime, clock):
    authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    resident, _ = proofed_resident_and_form(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    db.commit()
    client = TestClient(pages_app(runtime))
    der = phone.signing_request()
    forged = client.post("/app/signing/certificate", json={"signed": "a.b.c", "csr": b64url(der)})
    assert forged.status_code == 401 and forged.json()["type"] == "urn:egate:signing:invalid_signature"
    signed = phone.jws("certificate.request", clock.now, csr_sha256=csr_claim(der))
    issued = client.post("/app/signing/certificate", json={"signed": signed, "csr": b64url(der)})
    assert issued.status_code == 201, issued.text
    assert x509.load_pem_x509_certificate(issued.json()["certificate"].encode()).subject.rfc4514_string() == (
        "CN=CHAN Tai Man"
    )
    replayed = client.post("/app/signing/certificate", json={"signed": signed, "csr": b64url(der)})
    assert replayed.status_code == 401  # the device's signed request works once


def test_the_resident_sees_and_revokes_a_certificate_on_their_page(db, runtime, clock):
    authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    resident, form = proofed_resident_and_form(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    signing = signing_of(runtime)
    der = phone.signing_request()
    issued = service.issue_for_device(
        db,
        signing.store,
        signing.seal,
        keyring_of(runtime),
        signing.endpoints,
        clock.now,
        phone.signed(db, "certificate.request", clock.now, csr_sha256=csr_claim(der)),
        der,
        None,
    )
    db.commit()
    browser = Browser(runtime)
    assert browser.sign_in(form["hkid"]).status_code == 303
    page = browser.get("/account/signing")
    assert page.status_code == 200 and issued.row.serial[:16] in page.text and "Valid" in page.text
    no_token = browser.client.post(f"/account/signing/{issued.row.serial}/revoke", follow_redirects=False)
    assert no_token.status_code in (400, 403)
    revoked = browser.post(f"/account/signing/{issued.row.serial}/revoke", follow_redirects=False)
    assert revoked.status_code == 303 and "notice.certificate_revoked" in revoked.headers["location"]
    page = browser.get(revoked.headers["location"])
    assert "The signing certificate has been revoked." in page.text and "Revoked" in page.text
