"""Detached CMS SignedData (RFC 5652) in the CAdES baseline shape (ETSI EN 319 122-1), put
together around a signature value made elsewhere: on the resident's device.

The device signs the DER of the signed attributes (RFC 5652 §5.4: the SET OF, tag 0x31) with
ECDSA-SHA256. The attributes are:

* ``content-type`` (RFC 5652 §11.1): ``id-data``;
* ``message-digest`` (§11.2): SHA-256 of the document (for a PDF, of its signed byte range);
* ``signing-certificate-v2`` (RFC 5035 §3): the SHA-256 hash and issuer/serial of the
  signer's certificate, so the signature cannot be re-attributed to another certificate
  with the same key;
* ``signing-time`` (RFC 5652 §11.3): CAdES only; PAdES puts the time in the signature
  dictionary instead (ETSI EN 319 142-1 §5.3: signing-time shall not be present).

The gateway then adds, as an unsigned attribute, an RFC 3161 time-stamp token over the
signature value (``signature-time-stamp``, RFC 3161 Appendix A; CAdES B-T).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

DIGEST = "sha256"
SIGNATURE_ALGORITHM = "sha256_ecdsa"  # ecdsa-with-SHA256, 1.2.840.10045.4.3.2
UTC_TIME_UNTIL_YEAR = 2050  # RFC 5652 §11.3: UTCTime before 2050, GeneralizedTime after


class SignatureValueRefused(ValueError):
    """The device's signature value does not verify over the signed attributes."""


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def as_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(_der(certificate))


def ess_cert_id_v2(certificate: x509.Certificate) -> tsp.ESSCertIDv2:
    """RFC 5035 §4: the certificate's SHA-256 (the default hashAlgorithm, so left out, as
    DER requires) and its issuer and serial number."""
    parsed = as_asn1(certificate)
    return tsp.ESSCertIDv2(
        {
            "cert_hash": hashlib.sha256(_der(certificate)).digest(),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName({"directory_name": parsed.issuer})],
                "serial_number": parsed.serial_number,
            },
        }
    )


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def cms_time(moment: datetime) -> cms.Time:
    if moment.year < UTC_TIME_UNTIL_YEAR:
        return cms.Time({"utc_time": core.UTCTime(moment)})
    return cms.Time({"generalized_time": core.GeneralizedTime(moment)})


def signed_attributes(
    document_digest: bytes,
    signer: x509.Certificate,
    *,
    signing_time: datetime | None,
    content_type: str = "data",
) -> bytes:
    """The DER (a SET OF, sorted as DER requires) that the signer's key signs."""
    if len(document_digest) != hashlib.sha256().digest_size:
        raise ValueError("the document digest must be a SHA-256 digest")
    attributes = [
        _attribute("content_type", content_type),
        _attribute("message_digest", document_digest),
        _attribute("signing_certificate_v2", tsp.SigningCertificateV2({"certs": [ess_cert_id_v2(signer)]})),
    ]
    if signing_time is not None:
        attributes.append(_attribute("signing_time", cms_time(signing_time)))
    return bytes(cms.CMSAttributes(attributes).dump())


def message_digest_of(to_be_signed: bytes) -> bytes:
    """The ``message-digest`` inside signed attributes (what the app checks against the
    document hash it shows)."""
    for attribute in cms.CMSAttributes.load(to_be_signed):
        if attribute["type"].native == "message_digest":
            return bytes(attribute["values"][0].native)
    raise ValueError("no message-digest attribute")


def check_signature(public_key: ec.EllipticCurvePublicKey, to_be_signed: bytes, signature: bytes) -> None:
    """Raises SignatureValueRefused unless ``signature`` is the key's ECDSA-SHA256 over
    ``to_be_signed`` (a DER Ecdsa-Sig-Value, RFC 3279 §2.2.3)."""
    try:
        public_key.verify(signature, to_be_signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureValueRefused("the signature does not verify with the certificate's key") from None


def signer_info(
    to_be_signed: bytes,
    signature: bytes,
    signer: x509.Certificate,
    unsigned: Sequence[cms.CMSAttribute] = (),
) -> cms.SignerInfo:
    parsed = as_asn1(signer)
    fields: dict[str, object] = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
                )
            }
        ),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": DIGEST}),
        "signed_attrs": cms.CMSAttributes.load(to_be_signed),
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": SIGNATURE_ALGORITHM}),
        "signature": signature,
    }
    if unsigned:
        fields["unsigned_attrs"] = cms.CMSAttributes(list(unsigned))
    return cms.SignerInfo(fields)


def timestamp_attribute(token: cms.ContentInfo) -> cms.CMSAttribute:
    """``id-aa-signatureTimeStampToken`` (RFC 3161 Appendix A)."""
    return _attribute("signature_time_stamp_token", token)


def signed_data(
    info: cms.SignerInfo,
    certificates: Sequence[x509.Certificate],
    *,
    content_type: str = "data",
    content: bytes | None = None,
) -> cms.ContentInfo:
    """A ContentInfo holding the SignedData; detached unless ``content`` is given.

    Version 1 for ``id-data`` content (RFC 5652 §5.1), 3 otherwise (a time-stamp token)."""
    encapsulated: dict[str, object] = {"content_type": content_type}
    if content is not None:
        encapsulated["content"] = cms.ParsableOctetString(content)
    body = cms.SignedData(
        {
            "version": "v1" if content_type == "data" else "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": DIGEST})],
            "encap_content_info": encapsulated,
            "certificates": [as_asn1(c) for c in certificates],
            "signer_infos": [info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": body})


def signature_value_digest(info: cms.SignerInfo) -> bytes:
    """What the signature time-stamp covers: SHA-256 of the signature value's octets."""
    return hashlib.sha256(bytes(info["signature"].native)).digest()
