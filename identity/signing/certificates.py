"""The certificate profiles of the signing CA (RFC 5280), built with ``cryptography``.

* The CA: its own root, or an intermediate under an operator's root (``keyCertSign``,
  ``cRLSign``; ``digitalSignature`` because it signs OCSP responses itself, RFC 6960 §4.2.2.2).
* The time-stamping authority: ``extendedKeyUsage`` ``timeStamping`` only, critical
  (RFC 3161 §2.3).
* A resident's signing certificate: the subject is the resident's name as proofed, nothing
  else (no identity-card number, no email); ``keyUsage`` ``nonRepudiation`` and
  ``digitalSignature`` (critical); where its status is published (CRL distribution point,
  OCSP in the authority information access).

Every key here is EC P-256 with ECDSA-SHA256; an operator's root may also be RSA.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=10 * 365)
TSA_VALIDITY = timedelta(days=5 * 365)
RESIDENT_VALIDITY = timedelta(days=2 * 365)
# Certificates start a little in the past: a verifier whose clock lags must not see a
# certificate that is not valid yet.
BACKDATE = timedelta(minutes=5)
MAX_NAME_LENGTH = 64  # RFC 5280 Appendix A: ub-common-name

IssuerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateRequestRefused(ValueError):
    """The certificate signing request cannot be honoured; the message says why."""


@dataclass(frozen=True)
class Endpoints:
    """Where the CA publishes what a relying party needs (all under the issuer)."""

    ca_certificate: str
    crl: str
    ocsp: str

    @classmethod
    def under(cls, issuer: str) -> Endpoints:
        base = issuer.rstrip("/")
        return cls(f"{base}/signing/ca.crt", f"{base}/signing/crl", f"{base}/signing/ocsp")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def serial_hex(serial: int) -> str:
    return f"{serial:x}"


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER, hex with colons (as `openssl x509 -fingerprint -sha256` shows)."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = []
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _ca_extensions(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    return builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )


def create_root(
    key: ec.EllipticCurvePrivateKey, common_name: str, organization: str, now: datetime
) -> x509.Certificate:
    """The CA as its own root (self-signed)."""
    name = _name(common_name, organization)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return _ca_extensions(builder).sign(key, hashes.SHA256())


def create_intermediate(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    organization: str,
    now: datetime,
    issuer_certificate: x509.Certificate,
    issuer_key: IssuerKey,
) -> x509.Certificate:
    """The CA under an operator's root. Its validity ends no later than the root's."""
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateRequestRefused("the issuer key must be EC or RSA")
    if _public_numbers(issuer_key.public_key()) != _public_numbers(issuer_certificate.public_key()):
        raise CertificateRequestRefused("the issuer key does not belong to the issuer certificate")
    constraints = _extension(issuer_certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise CertificateRequestRefused("the issuer certificate is not a CA certificate")
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(issuer_certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + CA_VALIDITY, issuer_certificate.not_valid_after_utc))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_authority_key_id(issuer_certificate), critical=False)
    )
    return _ca_extensions(builder).sign(issuer_key, hashes.SHA256())


def create_tsa(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    organization: str,
    now: datetime,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    endpoints: Endpoints,
) -> x509.Certificate:
    public = key.public_key()
    builder = _issued_by(ca_certificate, public, now, TSA_VALIDITY, endpoints).subject_name(
        _name(common_name, organization)
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def read_signing_request(pem_or_der: bytes) -> x509.CertificateSigningRequest:
    """A PKCS #10 request (RFC 2986) whose self-signature verifies (proof of possession) for
    an EC P-256 key. Everything else it asks for (subject, extensions) is ignored.

    Raises:
        CertificateRequestRefused: unparsable, not self-signed correctly, or another key type.
    """
    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            request = x509.load_pem_x509_csr(pem_or_der)
        else:
            request = x509.load_der_x509_csr(pem_or_der)
    except ValueError:
        raise CertificateRequestRefused("not a PKCS #10 certificate signing request") from None
    if not request.is_signature_valid:
        raise CertificateRequestRefused("the request's signature does not verify with its key")
    key = request.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateRequestRefused("the signing key must be EC P-256")
    return request


def issue_resident(
    key: ec.EllipticCurvePublicKey,
    name: str,
    now: datetime,
    ca_certificate: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    endpoints: Endpoints,
) -> x509.Certificate:
    """The resident's signing certificate: CN = the name as proofed, and nothing more."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise CertificateRequestRefused("the proofed name cannot be a certificate subject")
    builder = _issued_by(ca_certificate, key, now, RESIDENT_VALIDITY, endpoints).subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,  # nonRepudiation
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return builder.sign(ca_key, hashes.SHA256())


def _issued_by(
    ca_certificate: x509.Certificate,
    public: ec.EllipticCurvePublicKey,
    now: datetime,
    validity: timedelta,
    endpoints: Endpoints,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .issuer_name(ca_certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + validity, ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_authority_key_id(ca_certificate), critical=False)
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(endpoints.crl)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(endpoints.ocsp),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(endpoints.ca_certificate),
                    ),
                ]
            ),
            critical=False,
        )
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    identifier = _extension(issuer, x509.SubjectKeyIdentifier)
    if identifier is not None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier)
    public = issuer.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CertificateRequestRefused("the issuer key must be EC or RSA")
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(public)


_E = TypeVar("_E", bound=x509.ExtensionType)


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _public_numbers(key: object) -> object:
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return key.public_numbers()
    return None


def load_issuer_key(pem: bytes) -> IssuerKey:
    """An operator's root key (PEM, unencrypted: the operator decrypts it for the command)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise CertificateRequestRefused("the issuer key is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateRequestRefused("the issuer key must be EC or RSA")
    return key
