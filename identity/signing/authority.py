"""The signing CA and its time-stamping authority as stored: certificates in clear (they are
public), private keys sealed under a key derived from the master secret (kit.sealing), each
bound to its row so a sealed key copied to another row does not open.

`egate signing-ca init` creates both once (the CA as its own root, or as an intermediate
under an operator's root); :class:`AuthorityStore` opens them for the routes and keeps the
opened keys in memory (an authority's key never changes: a new CA is a new row).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from identity.signing import certificates, repository
from identity.signing.certificates import Endpoints, IssuerKey
from identity.signing.models import SigningAuthority
from identity.signing.rfc3161 import TimeStampingUnit
from kit.sealing import FieldCipher, derive_key

CA = "ca"
TSA = "tsa"
DEFAULT_CA_NAME = "e-Gateway Signing CA"
DEFAULT_TSA_NAME = "e-Gateway Time-Stamping Authority"
DEFAULT_ORGANIZATION = "e-Gateway"
_KEY_PURPOSE = "signing-authority-keys/v1"


class SigningNotReady(Exception):
    """No signing CA yet: run `egate signing-ca init`."""


class AlreadyInitialised(Exception):
    """A signing CA exists already; the message names it."""


@dataclass(frozen=True)
class Authority:
    id: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    # The issuers above it, up to the trust anchor; empty for a CA that is its own root.
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class Authorities:
    ca: Authority
    tsa: Authority

    @property
    def ca_chain(self) -> tuple[x509.Certificate, ...]:
        """The CA and the issuers above it: what a signature carries after the signer's own."""
        return (self.ca.certificate, *self.ca.chain)

    def time_stamping(self) -> TimeStampingUnit:
        return TimeStampingUnit(self.tsa.certificate, self.tsa.key, self.ca_chain)

    def published_pem(self) -> bytes:
        """ca.pem: the CA certificate, then any issuer up to the operator's root: the file a
        verifier trusts (`openssl cms -verify -CAfile`, `pyhanko --trust`)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.ca_chain)


def _cipher(master_key: bytes) -> FieldCipher:
    return FieldCipher({"k1": derive_key(master_key, _KEY_PURPOSE)}, "k1")


def _context(authority_id: str) -> str:
    return f"idp.signing_authority:{authority_id}"


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _row(
    cipher: FieldCipher,
    role: str,
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    chain: str,
    now: datetime,
) -> SigningAuthority:
    authority_id = secrets.token_hex(16)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningAuthority(
        id=authority_id,
        role=role,
        serial=certificates.serial_hex(certificate.serial_number),
        certificate_pem=_pem(certificate),
        chain_pem=chain,
        private_key_sealed=cipher.encrypt(key_pem, context=_context(authority_id)),
        created_at=now,
    )


def initialise(
    db: Session,
    master_key: bytes,
    now: datetime,
    *,
    issuer: str,
    common_name: str = DEFAULT_CA_NAME,
    organization: str = DEFAULT_ORGANIZATION,
    issuer_certificate: x509.Certificate | None = None,
    issuer_key: IssuerKey | None = None,
) -> SigningAuthority:
    """Create the CA (own root, or an intermediate under ``issuer_certificate``) and the TSA
    certificate under it; returns the CA's row.

    Raises:
        AlreadyInitialised: an active CA exists.
        certificates.CertificateRequestRefused: the operator's root or key is unusable.
    """
    existing = [row for row in repository.active_authorities(db) if row.role == CA]
    if existing:
        raise AlreadyInitialised(f"a signing CA exists already (serial {existing[0].serial})")
    cipher = _cipher(master_key)
    ca_key = certificates.new_key()
    if issuer_certificate is None or issuer_key is None:
        ca_certificate = certificates.create_root(ca_key, common_name, organization, now)
        chain = ""
    else:
        ca_certificate = certificates.create_intermediate(
            ca_key, common_name, organization, now, issuer_certificate, issuer_key
        )
        chain = _pem(issuer_certificate)
    ca_row = _row(cipher, CA, ca_certificate, ca_key, chain, now)
    repository.add_authority(db, ca_row)
    tsa_key = certificates.new_key()
    tsa_certificate = certificates.create_tsa(
        tsa_key, DEFAULT_TSA_NAME, organization, now, ca_certificate, ca_key, Endpoints.under(issuer)
    )
    repository.add_authority(db, _row(cipher, TSA, tsa_certificate, tsa_key, "", now))
    return ca_row


def load_chain(pem: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(pem.encode())) if pem.strip() else ()


class AuthorityStore:
    """The active CA and TSA with their keys opened; one per app (``app.state``)."""

    def __init__(self, master_key: bytes) -> None:
        self._cipher = _cipher(master_key)
        self._opened: dict[str, Authority] = {}
        self._lock = threading.Lock()

    def current(self, db: Session) -> Authorities:
        """Raises SigningNotReady before `egate signing-ca init`."""
        rows = repository.active_authorities(db)
        ca = next((row for row in rows if row.role == CA), None)
        tsa = next((row for row in rows if row.role == TSA), None)
        if ca is None or tsa is None:
            raise SigningNotReady("the signing CA is not initialised: run `egate signing-ca init`")
        return Authorities(self._open(ca), self._open(tsa))

    def _open(self, row: SigningAuthority) -> Authority:
        opened = self._opened.get(row.id)
        if opened is not None:
            return opened
        pem = self._cipher.decrypt(row.private_key_sealed, context=_context(row.id))
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # initialise makes EC P-256 keys only
        authority = Authority(
            row.id,
            x509.load_pem_x509_certificate(row.certificate_pem.encode()),
            key,
            load_chain(row.chain_pem),
        )
        with self._lock:
            self._opened[row.id] = authority
        return authority
