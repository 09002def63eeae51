"""Residents proofed in person with a bound device, the device's signed requests, a signing
key with its PKCS #10 request, and openssl around the assembled signatures."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from identity.accounts.models import Account
from identity.devices import service as devices
from identity.devices.models import Device
from identity.devices.signatures import SIGNED_REQUEST_TYPE, SignedRequest, verify_device_request
from identity.proofing import service as proofing
from identity.signing.dependencies import Signing
from kit.runtime import Runtime
from tests.identity.accounts.factories import create_resident, keyring_of
from tests.identity.proofing.factories import checked, create_registrar

OPENSSL = "/usr/bin/openssl"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proofed_resident(db: Session, runtime: Runtime, now: datetime, **overrides: str) -> Account:
    """A resident whose identity a registration officer checked in person (counter code)."""
    return proofed_resident_and_form(db, runtime, now, **overrides)[0]


def proofed_resident_and_form(
    db: Session, runtime: Runtime, now: datetime, **overrides: str
) -> tuple[Account, dict[str, str]]:
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime, **overrides)
    officer = create_registrar(db, runtime)
    code, _ = proofing.issue_counter_code(db, keyring, account, now)
    proofing.proof_in_person(db, keyring, officer, account, code, checked(form), None, now, notify=False)
    return account, form


@dataclass
class Phone:
    """A bound device: its authentication key (signs requests) and, once asked for, a signing key."""

    device: Device
    key: ec.EllipticCurvePrivateKey
    issuer: str
    signing_key: ec.EllipticCurvePrivateKey | None = None

    def jws(self, action: str, now: datetime, **claims: object) -> str:
        stamp = int(now.timestamp())
        body = {"aud": self.issuer, "iat": stamp, "exp": stamp + 60, "jti": secrets.token_urlsafe(12)}
        body.update(action=action, **claims)
        header = {"alg": "ES256", "typ": SIGNED_REQUEST_TYPE, "kid": self.device.id}
        return jwt.encode(header, body, ECKey.import_key(self.key))

    def signed(self, db: Session, action: str, now: datetime, **claims: object) -> SignedRequest:
        """The request as the provider checks it (identity/devices/signatures.py)."""
        return verify_device_request(
            db, self.jws(action, now, **claims), issuer=self.issuer, action=action, now=now
        )

    def signing_request(self) -> bytes:
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        request = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ignored by the CA")])
        )
        return request.sign(self.signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def sign(self, to_be_signed: bytes) -> bytes:
        assert self.signing_key is not None
        return self.signing_key.sign(to_be_signed, ec.ECDSA(hashes.SHA256()))


def bind_phone(db: Session, runtime: Runtime, account: Account, now: datetime) -> Phone:
    key = ec.generate_private_key(ec.SECP256R1())
    public = ECKey.import_key(key.public_key()).as_dict(private=False)
    device = devices.bind_device(
        db, now, account_id=account.id, name="Test phone", public_jwk=public, session_id=None, meta=None
    )
    return Phone(device, key, runtime.settings.issuer)


def signing_of(runtime: Runtime) -> Signing:
    return Signing.build(runtime.master_key, runtime.settings.issuer)


def csr_claim(der: bytes) -> str:
    return b64url(hashlib.sha256(der).digest())


def openssl(*args: str | Path, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [OPENSSL, *map(str, args)], input=data, capture_output=True, timeout=30, check=False
    )


def tiny_pdf(text: str = "Receipt") -> bytes:
    """A one-page PDF with a line of text (PDF 1.7, classic cross-reference table)."""
    stream = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
