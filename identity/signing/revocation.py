"""Certificate status: the CRL (RFC 5280 §5) and OCSP responses (RFC 6960), signed by the CA.

Both are built fresh from the database (no pre-signed batch), and both say so for one minute
only (``nextUpdate``): a revocation reaches every relying party that respects the CRL's
``nextUpdate`` or the OCSP response's within a minute.

The CA signs OCSP responses itself (RFC 6960 §4.2.2.2 allows the issuing CA), so no
delegated responder certificate is needed. A request's nonce (§4.4.1) is echoed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

VALID_FOR = timedelta(minutes=1)
MAX_REQUEST_BYTES = 4096
GOOD = "good"
REVOKED = "revoked"
UNKNOWN = "unknown"
_REQUEST_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Status:
    state: str  # GOOD | REVOKED | UNKNOWN
    revoked_at: datetime | None = None
    reason: str | None = None  # x509.ReasonFlags value, e.g. "cessationOfOperation"


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: datetime
    reason: str | None


class MalformedStatusRequest(ValueError):
    pass


def _reason(value: str | None) -> x509.ReasonFlags | None:
    if value is None:
        return None
    try:
        return x509.ReasonFlags(value)
    except ValueError:
        return x509.ReasonFlags.unspecified


def build_crl(
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    revoked: Iterable[Revoked],
    now: datetime,
) -> bytes:
    """A DER CRL (v2) listing ``revoked``; ``cRLNumber`` grows with time (one per second at
    most, so two replicas building one at the same second agree on it)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now)
        .next_update(now + VALID_FOR)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for entry in revoked:
        item = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        reason = _reason(entry.reason)
        # RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent.
        if reason is not None and reason != x509.ReasonFlags.unspecified:
            item = item.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    crl = builder.sign(ca_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def read_request(data: bytes) -> ocsp.OCSPRequest:
    """Raises MalformedStatusRequest (answered with ``malformedRequest``)."""
    if not data or len(data) > MAX_REQUEST_BYTES:
        raise MalformedStatusRequest("empty or oversized OCSP request")
    try:
        request = ocsp.load_der_ocsp_request(data)
        request.serial_number  # noqa: B018 - parses the single request now
    except (ValueError, NotImplementedError):
        raise MalformedStatusRequest("not a DER OCSP request for one certificate") from None
    return request


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _issuer_hashes(ca_certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    name = hashes.Hash(algorithm)
    name.update(ca_certificate.subject.public_bytes())
    public = ca_certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)  # the CA's key is EC P-256
    key = hashes.Hash(algorithm)
    key.update(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    return name.finalize(), key.finalize()


def respond(
    request: ocsp.OCSPRequest,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    status_of: Callable[[int], Status],
    now: datetime,
) -> bytes:
    """The DER OCSPResponse for one certificate: ``unauthorized`` when the request names
    another issuer (RFC 6960 §2.3), else good, revoked or unknown, signed by the CA."""
    algorithm = request.hash_algorithm
    if algorithm.name not in _REQUEST_HASHES:
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    name_hash, key_hash = _issuer_hashes(ca_certificate, _REQUEST_HASHES[algorithm.name]())
    if name_hash != request.issuer_name_hash or key_hash != request.issuer_key_hash:
        return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    status = status_of(request.serial_number)
    state = {
        GOOD: ocsp.OCSPCertStatus.GOOD,
        REVOKED: ocsp.OCSPCertStatus.REVOKED,
        UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
    }[status.state]
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        algorithm=algorithm,
        cert_status=state,
        this_update=now,
        next_update=now + VALID_FOR,
        revocation_time=status.revoked_at if state == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=_reason(status.reason) if state == ocsp.OCSPCertStatus.REVOKED else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca_certificate)
    for extension in request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            builder = builder.add_extension(extension.value, critical=False)
    response = builder.sign(ca_key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)
