"""The signing CA and residents' certificates on SQLite and PostgreSQL: the CA is created once
with its keys sealed, only residents proofed in person get a certificate, and removing the
device, suspending the account or the resident's request revokes it, in the CRL and OCSP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from identity.accounts import service as accounts
from identity.accounts.models import AccountEvent
from identity.devices import service as devices
from identity.signing import authority, service
from identity.signing.authority import AlreadyInitialised, SigningNotReady
from identity.signing.models import SigningAuthority, SigningCertificate
from identity.signing.service import SigningRefused
from tests.identity.accounts.factories import create_resident, keyring_of
from tests.identity.signing.factories import bind_phone, csr_claim, proofed_resident, signing_of


def issue(db, runtime, clock, phone, der=None):
    der = der or phone.signing_request()
    signing = signing_of(runtime)
    signed = phone.signed(db, "certificate.request", clock.now, csr_sha256=csr_claim(der))
    return service.issue_for_device(
        db, signing.store, signing.seal, keyring_of(runtime), signing.endpoints, clock.now, signed, der, None
    )


def ocsp_status(db, runtime, clock, certificate: x509.Certificate) -> ocsp.OCSPResponse:
    signing = signing_of(runtime)
    authorities = signing.store.current(db)
    request = ocsp.OCSPRequestBuilder().add_certificate(
        certificate,
        authorities.ca.certificate,
        hashes.SHA1(),  # noqa: S303 - the CertID hash openssl and most clients send
    )
    der = request.build().public_bytes(serialization.Encoding.DER)
    response = ocsp.load_der_ocsp_response(service.ocsp_response(db, authorities, clock.now, der))
    if response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
        public = authorities.ca.certificate.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    return response


def crl_serials(db, runtime, clock) -> dict[int, x509.RevokedCertificate]:
    authorities = signing_of(runtime).store.current(db)
    crl = x509.load_der_x509_crl(service.crl(db, authorities, clock.now))
    assert crl.is_signature_valid(authorities.ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc - crl.last_update_utc == timedelta(minutes=1)
    return {entry.serial_number: entry for entry in crl}


@pytest.fixture
def ca(db, runtime, clock) -> SigningAuthority:
    return authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)


def test_the_ca_is_created_once_with_its_keys_sealed_and_a_tsa_under_it(db, runtime, clock):
    store = signing_of(runtime).store
    with pytest.raises(SigningNotReady):
        store.current(db)
    row = authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    with pytest.raises(AlreadyInitialised):
        authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)

    current = store.current(db)
    assert current.ca.id == row.id and current.ca.chain == ()
    ca_certificate = current.ca.certificate
    assert ca_certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    tsa = current.tsa.certificate
    usage = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert tsa.issuer == ca_certificate.subject
    tsa.verify_directly_issued_by(ca_certificate)
    for sealed in db.query(SigningAuthority).all():
        assert "PRIVATE KEY" not in sealed.private_key_sealed
    assert current.published_pem() == ca_certificate.public_bytes(serialization.Encoding.PEM)


def test_an_intermediate_under_an_operators_root(db, runtime, clock):
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(clock.now - timedelta(days=1))
        .not_valid_after(clock.now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    authority.initialise(
        db,
        runtime.master_key,
        clock.now,
        issuer=runtime.settings.issuer,
        issuer_certificate=root,
        issuer_key=root_key,
    )
    current = signing_of(runtime).store.current(db)
    current.ca.certificate.verify_directly_issued_by(root)
    assert current.ca_chain == (current.ca.certificate, root)
    assert current.published_pem().count(b"BEGIN CERTIFICATE") == 2


def test_only_a_resident_proofed_in_person_gets_a_certificate_naming_them_and_nothing_more(
    db, runtime, clock, ca
):
    self_asserted, _ = create_resident(db, runtime)
    phone = bind_phone(db, runtime, self_asserted, clock.now)
    with pytest.raises(SigningRefused) as refused:
        issue(db, runtime, clock, phone)
    assert refused.value.code == "not_proofed_in_person"
    assert db.query(SigningCertificate).count() == 0

    resident = proofed_resident(db, runtime, clock.now, name="WONG Siu Ming")
    phone = bind_phone(db, runtime, resident, clock.now)
    issued = issue(db, runtime, clock, phone)
    certificate = issued.certificate
    assert certificate.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WONG Siu Ming")])
    assert certificate.public_key() == phone.signing_key.public_key()
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.content_commitment and usage.value.digital_signature
    assert not usage.value.key_cert_sign
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == f"{runtime.settings.issuer}/signing/crl"
    access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp_urls = [
        a.access_location.value for a in access if a.access_method == AuthorityInformationAccessOID.OCSP
    ]
    assert ocsp_urls == [f"{runtime.settings.issuer}/signing/ocsp"]
    certificate.verify_directly_issued_by(signing_of(runtime).store.current(db).ca.certificate)
    # The certificate names the resident: sealed at rest.
    assert issued.row.certificate_sealed.startswith("v1.")
    assert (
        db.query(AccountEvent).filter_by(account_id=resident.id, tag="signing.certificate_issued").count()
        == 1
    )


def test_a_request_for_another_key_or_a_bad_key_is_refused(db, runtime, clock, ca):
    resident = proofed_resident(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    der = phone.signing_request()
    signing = signing_of(runtime)
    signed = phone.signed(db, "certificate.request", clock.now, csr_sha256=csr_claim(b"another request"))
    with pytest.raises(SigningRefused, match="another certificate signing request"):
        service.issue_for_device(
            db,
            signing.store,
            signing.seal,
            keyring_of(runtime),
            signing.endpoints,
            clock.now,
            signed,
            der,
            None,
        )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_der = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(rsa_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(SigningRefused, match="EC P-256"):
        issue(db, runtime, clock, phone, rsa_der)
    assert db.query(SigningCertificate).count() == 0


def test_removing_the_device_revokes_its_certificate_in_the_crl_and_ocsp(db, runtime, clock, ca):
    resident = proofed_resident(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    issued = issue(db, runtime, clock, phone)
    assert ocsp_status(db, runtime, clock, issued.certificate).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert issued.certificate.serial_number not in crl_serials(db, runtime, clock)

    removed_at = clock.now
    devices.remove_device(db, removed_at, account_id=resident.id, device_id=phone.device.id, meta=None)
    clock.advance(seconds=5)
    answer = ocsp_status(db, runtime, clock, issued.certificate)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.cessation_of_operation
    assert answer.revocation_time_utc == removed_at
    assert answer.next_update_utc - answer.this_update_utc == timedelta(minutes=1)
    entry = crl_serials(db, runtime, clock)[issued.certificate.serial_number]
    assert entry.revocation_date_utc == removed_at
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.cessation_of_operation
    )


def test_a_suspended_account_or_the_residents_request_revokes(db, runtime, clock, ca):
    resident = proofed_resident(db, runtime, clock.now)
    first = issue(db, runtime, clock, bind_phone(db, runtime, resident, clock.now))
    second = issue(db, runtime, clock, bind_phone(db, runtime, resident, clock.now))
    stranger = proofed_resident(db, runtime, clock.now)
    assert not service.revoke_on_request(
        db, clock.now, account_id=stranger.id, serial=first.row.serial, meta=None
    )
    assert service.revoke_on_request(
        db, clock.now, account_id=resident.id, serial=first.row.serial, meta=None
    )
    assert not service.revoke_on_request(
        db, clock.now, account_id=resident.id, serial=first.row.serial, meta=None
    )
    assert (
        ocsp_status(db, runtime, clock, first.certificate).certificate_status == ocsp.OCSPCertStatus.REVOKED
    )

    resident.status = accounts.SUSPENDED
    db.flush()
    answer = ocsp_status(db, runtime, clock, second.certificate)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.privilege_withdrawn
    assert {first.certificate.serial_number, second.certificate.serial_number} <= set(
        crl_serials(db, runtime, clock)
    )


def test_a_new_certificate_supersedes_the_devices_previous_one(db, runtime, clock, ca):
    resident = proofed_resident(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    old = issue(db, runtime, clock, phone)
    new = issue(db, runtime, clock, phone)
    answer = ocsp_status(db, runtime, clock, old.certificate)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.superseded
    assert ocsp_status(db, runtime, clock, new.certificate).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert service.live_certificate(db, clock.now, phone.device.id).serial == new.row.serial


def test_ocsp_answers_unknown_for_a_stranger_and_refuses_garbage(db, runtime, clock, ca):
    authorities = signing_of(runtime).store.current(db)
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")]))
        .issuer_name(authorities.ca.certificate.subject)
        .public_key(other_key.public_key())
        .serial_number(12345)
        .not_valid_before(clock.now)
        .not_valid_after(clock.now + timedelta(days=1))
        .sign(authorities.ca.key, hashes.SHA256())
    )
    assert ocsp_status(db, runtime, clock, stranger).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert (
        ocsp_status(db, runtime, clock, authorities.tsa.certificate).certificate_status
        == ocsp.OCSPCertStatus.GOOD
    )
    garbage = ocsp.load_der_ocsp_response(service.ocsp_response(db, authorities, clock.now, b"\x30\x03junk"))
    assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
