"""The gateway's time-stamping authority: RFC 3161 time-stamp tokens.

A token is a CMS SignedData (RFC 5652) whose content is a ``TSTInfo`` (§2.4.2): the hash it
was asked to stamp, the time, a serial number, our policy, and the requester's nonce. The
TSA's signer info carries ``signing-certificate-v2`` (RFC 5816), and the TSA certificate's
only extended key usage is ``timeStamping``, critical (§2.3). The same code answers the public
endpoint (``application/timestamp-query`` in, ``application/timestamp-reply`` out, §3.4) and
stamps the signatures the gateway assembles.

Refusals are answered as §2.4.2 says: status ``rejection`` and a ``PKIFailureInfo``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from identity.signing import cades

# The TSA policy (§2.4.2 ``policy``): an OID under the UUID arc (ITU-T X.667), needing no
# registration. Requests naming another policy are refused with unacceptedPolicy.
POLICY = "2.25.202507103624497187426745203330358317846"
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_REQUEST_BYTES = 4096
ACCURACY_SECONDS = 1


class TimeStampRefused(Exception):
    """``failure`` is a PKIFailureInfo bit name (``bad_alg``, ``bad_request``, ...)."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True)
class TimeStampingUnit:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    # The CA certificate (and any above it), embedded when the requester asks (certReq).
    chain: tuple[x509.Certificate, ...]


def token(
    unit: TimeStampingUnit,
    hash_algorithm: str,
    digest: bytes,
    now: datetime,
    *,
    nonce: int | None = None,
    include_certificates: bool = True,
) -> cms.ContentInfo:
    """A time-stamp token over ``digest`` (already hashed with ``hash_algorithm``)."""
    if DIGEST_SIZES.get(hash_algorithm) != len(digest):
        raise TimeStampRefused("bad_alg", "unsupported hash algorithm or wrong digest length")
    fields: dict[str, object] = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": digest},
        "serial_number": secrets.randbits(64),
        "gen_time": core.GeneralizedTime(now.astimezone(UTC).replace(microsecond=0)),
        "accuracy": {"seconds": ACCURACY_SECONDS},
        "tsa": asn1_x509.GeneralName({"directory_name": cades.as_asn1(unit.certificate).subject}),
    }
    if nonce is not None:
        fields["nonce"] = nonce
    content = tsp.TSTInfo(fields).dump()
    content_digest = hashes.Hash(hashes.SHA256())
    content_digest.update(content)
    attributes = cades.signed_attributes(
        content_digest.finalize(), unit.certificate, signing_time=None, content_type="tst_info"
    )
    signature = unit.key.sign(attributes, ec.ECDSA(hashes.SHA256()))
    info = cades.signer_info(attributes, signature, unit.certificate)
    certificates = (unit.certificate, *unit.chain) if include_certificates else ()
    return cades.signed_data(info, certificates, content_type="tst_info", content=content)


class _RejectionResponse(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    """A TimeStampResp without its token (§2.4.2: timeStampToken is OPTIONAL, and absent
    unless granted); asn1crypto's own class requires the token."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(failure: str, message: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [message], "fail_info": tsp.PKIFailureInfo({failure})}
    )
    return bytes(_RejectionResponse({"status": status}).dump())


def unavailable(message: str) -> bytes:
    """The answer while there is no TSA key (``systemFailure``, §2.4.2)."""
    return _rejection("system_failure", message)


def respond(unit: TimeStampingUnit, request: bytes, now: datetime) -> bytes:
    """The DER TimeStampResp to a DER TimeStampReq: granted, or a rejection saying why."""
    try:
        parsed = _read_request(request)
        imprint = parsed["message_imprint"]
        stamped = token(
            unit,
            imprint["hash_algorithm"]["algorithm"].native,
            bytes(imprint["hashed_message"].native),
            now,
            nonce=parsed["nonce"].native,
            include_certificates=bool(parsed["cert_req"].native),
        )
    except TimeStampRefused as refused:
        return _rejection(refused.failure, str(refused))
    granted = tsp.PKIStatusInfo({"status": "granted"})
    return bytes(tsp.TimeStampResp({"status": granted, "time_stamp_token": stamped}).dump())


def _read_request(request: bytes) -> tsp.TimeStampReq:
    if not request or len(request) > MAX_REQUEST_BYTES:
        raise TimeStampRefused("bad_request", "empty or oversized request")
    try:
        parsed = tsp.TimeStampReq.load(request, strict=True)
        parsed.native  # noqa: B018 - parses every field now, so a malformed one fails here
    except (ValueError, TypeError, KeyError):
        raise TimeStampRefused("bad_data_format", "not a DER TimeStampReq") from None
    if parsed["version"].native != "v1":
        raise TimeStampRefused("bad_request", "version must be 1")
    algorithm = parsed["message_imprint"]["hash_algorithm"]["algorithm"].native
    if algorithm not in DIGEST_SIZES:
        raise TimeStampRefused("bad_alg", "the hash algorithm must be SHA-256, SHA-384 or SHA-512")
    if len(parsed["message_imprint"]["hashed_message"].native) != DIGEST_SIZES[algorithm]:
        raise TimeStampRefused("bad_data_format", "the digest length does not match its algorithm")
    policy = parsed["req_policy"].native
    if policy is not None and policy != POLICY:
        raise TimeStampRefused("unaccepted_policy", "this TSA stamps under its own policy only")
    if parsed["extensions"].native:
        raise TimeStampRefused("unaccepted_extension", "no request extension is supported")
    return parsed
