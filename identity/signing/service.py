"""Residents' signing certificates: issuance to a device of a resident proofed in person,
revocation, and the status the CRL and OCSP publish.

Issuance (what iAM Smart+ does for residents registered at a counter): the app sends a
PKCS #10 request for a key it generated and keeps, inside a request signed by the device's
bound key, so the certificate is tied to that device. The subject is the name the
registration officer checked against the identity card (the proofing's sealed snapshot),
never the editable profile.

Revocation happens on the resident's request, when a newer certificate supersedes one on the
same device, and whenever the certificate's holder ends: its device removed (by the resident,
or when an account is suspended) or its account no longer active. The last two need no call
from the code that removes or suspends: :func:`sweep` records them before any CRL, OCSP answer,
issuance or signature, so they are published at once and nothing is signed with such a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts.service import ACTIVE, RESIDENT, RequestMeta, record_event
from identity.assurance import IAL_IN_PERSON
from identity.devices.signatures import SignedRequest
from identity.proofing.verified import current_verification
from identity.security.keyring import Keyring
from identity.signing import certificates, repository, revocation
from identity.signing.authority import Authorities, AuthorityStore
from identity.signing.certificates import Endpoints
from identity.signing.models import SigningCertificate
from identity.signing.sealed import SigningSeal

# RFC 5280 §5.3.1 reasons, as cryptography names them.
REASON_REQUESTED = x509.ReasonFlags.unspecified.value
REASON_SUPERSEDED = x509.ReasonFlags.superseded.value
REASON_DEVICE_REMOVED = x509.ReasonFlags.cessation_of_operation.value
REASON_ACCOUNT_ENDED = x509.ReasonFlags.privilege_withdrawn.value
REASON_KEY_COMPROMISE = x509.ReasonFlags.key_compromise.value
MAX_REQUEST_BYTES = 2048


class SigningRefused(Exception):
    """Refused; ``code`` is a stable reason (shown to the app as problem+json)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Issued:
    row: SigningCertificate
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str, limit: int) -> bytes:
    if not isinstance(text, str) or not text or len(text) > limit:
        raise SigningRefused("invalid_request", "a base64url value is missing or too long")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise SigningRefused("invalid_request", "not base64url") from None


def certificate_context(serial: str) -> str:
    return f"idp.signing_certificate:{serial}"


def open_certificate(seal: SigningSeal, row: SigningCertificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(
        seal.open_der(row.certificate_sealed, certificate_context(row.serial))
    )


def proofed_name(db: Session, keyring: Keyring, account_id: str) -> str:
    """The English name a registration officer checked in person.

    Raises:
        SigningRefused: the account is not an active resident proofed in person.
    """
    account = accounts_repository.get(db, account_id)
    if account is None or account.kind != RESIDENT or account.status != ACTIVE:
        raise SigningRefused("not_allowed", "only an active resident can hold a signing certificate")
    verification = current_verification(db, keyring, account_id)
    if account.identity_level != IAL_IN_PERSON or verification is None or verification.level != IAL_IN_PERSON:
        raise SigningRefused(
            "not_proofed_in_person",
            "a signing certificate needs an identity checked in person at a registration counter",
        )
    name = verification.claims.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SigningRefused("not_proofed_in_person", "the proofing holds no checked name")
    return name


def issue_for_device(
    db: Session,
    store: AuthorityStore,
    seal: SigningSeal,
    keyring: Keyring,
    endpoints: Endpoints,
    now: datetime,
    signed: SignedRequest,
    signing_request: bytes,
    meta: RequestMeta | None,
) -> Issued:
    """A certificate for the key in ``signing_request`` (DER PKCS #10), whose hash the
    device's signed request (action ``certificate.request``) carries as ``csr_sha256``.
    A certificate the device held before is revoked as superseded."""
    if len(signing_request) > MAX_REQUEST_BYTES:
        raise SigningRefused("invalid_request", "the certificate signing request is too large")
    expected = str(signed.claims.get("csr_sha256", ""))
    if not hmac.compare_digest(expected, b64url(hashlib.sha256(signing_request).digest())):
        raise SigningRefused(
            "invalid_request", "the signed request is for another certificate signing request"
        )
    device = signed.device
    sweep(db, now)
    name = proofed_name(db, keyring, device.account_id)
    try:
        request = certificates.read_signing_request(signing_request)
        authorities = store.current(db)
        public = request.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)  # read_signing_request checked it
        certificate = certificates.issue_resident(
            public, name, now, authorities.ca.certificate, authorities.ca.key, endpoints
        )
    except certificates.CertificateRequestRefused as exc:
        raise SigningRefused("invalid_request", str(exc)) from None
    for older in repository.live_certificates_of_device(db, device.id, now):
        _revoke(older, now, REASON_SUPERSEDED)
    serial = certificates.serial_hex(certificate.serial_number)
    row = SigningCertificate(
        serial=serial,
        account_id=device.account_id,
        device_id=device.id,
        authority_id=authorities.ca.id,
        certificate_sealed=seal.seal_der(
            certificate.public_bytes(serialization.Encoding.DER), certificate_context(serial)
        ),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        issued_at=now,
    )
    repository.add_certificate(db, row)
    record_event(
        db, device.account_id, "signing.certificate_issued", meta, now, device=device.name, serial=serial
    )
    return Issued(row, certificate, authorities.ca_chain)


def _revoke(row: SigningCertificate, when: datetime, reason: str) -> None:
    row.revoked_at = when
    row.revocation_reason = reason


def certificates_of(db: Session, account_id: str, now: datetime) -> list[SigningCertificate]:
    sweep(db, now)
    return list(repository.certificates_of(db, account_id))


def revoke_on_request(
    db: Session,
    now: datetime,
    *,
    account_id: str,
    serial: str,
    reason: str = REASON_REQUESTED,
    meta: RequestMeta | None,
) -> bool:
    """The resident revokes one of their certificates; False for another's or a revoked one."""
    row = repository.get_certificate(db, serial[:40])
    if row is None or row.account_id != account_id or row.revoked_at is not None:
        return False
    _revoke(row, now, reason)
    record_event(db, account_id, "signing.certificate_revoked", meta, now, serial=row.serial)
    return True


def sweep(db: Session, now: datetime) -> int:
    """Record the revocation of every certificate whose device was removed (at the removal
    time) or whose account is no longer active (now). Returns how many."""
    ended = repository.unrevoked_with_ended_holder(db)
    for row, removed_at in ended:
        if removed_at is not None:
            _revoke(row, removed_at, REASON_DEVICE_REMOVED)
        else:
            _revoke(row, now, REASON_ACCOUNT_ENDED)
    if ended:
        db.flush()
    return len(ended)


def live_certificate(db: Session, now: datetime, device_id: str) -> SigningCertificate | None:
    """The device's current certificate (after :func:`sweep`), if it has one."""
    rows = repository.live_certificates_of_device(db, device_id, now)
    return max(rows, key=lambda row: row.issued_at) if rows else None


def status_of(db: Session, authorities: Authorities, now: datetime, serial: int) -> revocation.Status:
    """What OCSP says of ``serial``: a resident's certificate, or the TSA's."""
    key = certificates.serial_hex(serial)
    row = repository.get_certificate(db, key)
    if row is not None and row.authority_id == authorities.ca.id:
        if row.revoked_at is not None:
            return revocation.Status(revocation.REVOKED, row.revoked_at, row.revocation_reason)
        return revocation.Status(revocation.GOOD)
    authority = repository.authority_by_serial(db, key)
    if authority is not None and authority.id == authorities.tsa.id:
        return revocation.Status(revocation.GOOD)
    return revocation.Status(revocation.UNKNOWN)


def crl(db: Session, authorities: Authorities, now: datetime) -> bytes:
    sweep(db, now)
    revoked = [
        revocation.Revoked(int(row.serial, 16), row.revoked_at, row.revocation_reason)
        for row in repository.revoked_of_authority(db, authorities.ca.id)
        if row.revoked_at is not None and row.not_after > now
    ]
    return revocation.build_crl(authorities.ca.certificate, authorities.ca.key, revoked, now)


def ocsp_response(db: Session, authorities: Authorities, now: datetime, request: bytes) -> bytes:
    try:
        parsed = revocation.read_request(request)
    except revocation.MalformedStatusRequest:
        return revocation.unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    sweep(db, now)
    return revocation.respond(
        parsed,
        authorities.ca.certificate,
        authorities.ca.key,
        lambda serial: status_of(db, authorities, now, serial),
        now,
    )
