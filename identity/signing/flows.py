"""A department asks a resident to sign a document; the resident decides in the app.

    department ──POST /signing/requests (client authenticated: hash or PDF, summary EN/zh)──▶ pending
    app ──signed view──▶ the summary, and the signed attributes for this device's certificate
    app ──signed approval + signature value by the device's signing key──▶ approved
        (the gateway checks both, adds its RFC 3161 time-stamp, assembles CMS or PAdES)
    app ──signed refusal──▶ declined          nobody answers in time ──▶ expired
    department ──GET /signing/requests/{id} (client authenticated)──▶ the status, and the result

Nothing is signed without the device's approval: the gateway never holds the resident's key,
and the approval is a request signed by the bound device's key naming this request and the
hash of exactly what is being signed. Each request and its outcome is a ledger entry (the
department, the document's hash, when, the outcome): never the document or its summary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from identity.accounts.service import RequestMeta, record_event
from identity.clients.models import Client
from identity.consent_port import ConsentPort, ConsentRequest
from identity.devices import repository as devices_repository
from identity.devices.models import Device
from identity.devices.signatures import SignedRequest
from identity.signing import cades, pades, repository, rfc3161, service
from identity.signing.authority import AuthorityStore
from identity.signing.models import SignatureRequest
from identity.signing.sealed import SigningSeal
from identity.signing.service import SigningRefused, b64url
from identity.tokens import repository as tokens_repository
from kit.i18n import CHINESE, ENGLISH, N_, bilingual

CMS = "cms"
PDF = "pdf"
KINDS = (CMS, PDF)
PENDING, APPROVED, DECLINED, EXPIRED = "pending", "approved", "declined", "expired"
DEFAULT_TTL = 300
MIN_TTL, MAX_TTL = 60, 900
POLL_INTERVAL = 5
MAX_SUMMARY = 500
MAX_PDF_BYTES = 512 * 1024
CHANNEL = "signature"
# What a department relies on to ask (the ledger's legal basis for a request and a refusal);
# an approval is the resident's own consent, given in the app.
REQUEST_BASIS = N_("Electronic Transactions Ordinance (Cap. 553): request for a digital signature")
# The ledger's purpose of each outcome: the entry keeps the English; the resident's record
# shows it in their language too (consent.ledger.texts).
OUTCOME_PURPOSES = {
    "requested": N_("Signature requested: document sha256:{digest}"),
    APPROVED: N_("Signature approved: document sha256:{digest}"),
    DECLINED: N_("Signature declined: document sha256:{digest}"),
    EXPIRED: N_("Signature expired: document sha256:{digest}"),
}
GRANT_PURPOSE = N_("Digital signature over document sha256:{digest}")
REQUEST_FIELDS = ("signature_request",)
# An approved signature hands the department the signature and the certificate, which names
# the resident.
SIGNATURE_FIELDS = ("name", "signature")


@dataclass(frozen=True)
class NewRequest:
    login_hint: str
    kind: str
    summary_en: str
    summary_zh: str
    document_sha256: str | None = None  # kind cms: hex
    pdf: bytes | None = None  # kind pdf
    expires_in: int | None = None


@dataclass(frozen=True)
class Outcome:
    request: SignatureRequest
    result: bytes | None  # DER CMS (kind cms) or the signed PDF


def _context(request_id: str, column: str) -> str:
    return f"idp.signature_request.{column}:{request_id}"


def _clean_summary(text: object, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise SigningRefused("invalid_request", f"{field} is required")
    cleaned = " ".join(text.split())
    if len(cleaned) > MAX_SUMMARY or not cleaned.isprintable():
        raise SigningRefused("invalid_request", f"{field}: up to {MAX_SUMMARY} printable characters")
    return cleaned


def _document_hash(new: NewRequest) -> str:
    if new.kind == CMS:
        digest = (new.document_sha256 or "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SigningRefused("invalid_request", "document_sha256: the document's SHA-256, 64 hex digits")
        return digest
    if new.kind == PDF:
        if not new.pdf or not new.pdf.startswith(b"%PDF-") or len(new.pdf) > MAX_PDF_BYTES:
            raise SigningRefused("invalid_request", f"document_pdf: a PDF of up to {MAX_PDF_BYTES} bytes")
        return hashlib.sha256(new.pdf).hexdigest()
    raise SigningRefused("invalid_request", f"kind must be one of {', '.join(KINDS)}")


def _record(
    db: Session,
    consent: ConsentPort,
    request: SignatureRequest,
    outcome: str,
    now: datetime,
    *,
    grant_id: str | None = None,
) -> None:
    purpose = bilingual(OUTCOME_PURPOSES[outcome], digest=request.document_sha256)
    consent.record_disclosure(
        db,
        resident_id=request.account_id,
        client_id=request.client_id,
        department=request.department,
        channel=CHANNEL,
        fields=SIGNATURE_FIELDS if outcome == APPROVED else REQUEST_FIELDS,
        purpose=purpose[ENGLISH],
        grant_id=grant_id,
        legal_basis=None if grant_id else REQUEST_BASIS,
        request_id=f"signature-{request.id}",
        now=now,
        texts={"purpose": purpose, "legal_basis": bilingual(REQUEST_BASIS)},
    )


def create(
    db: Session,
    seal: SigningSeal,
    consent: ConsentPort,
    now: datetime,
    client: Client,
    new: NewRequest,
) -> SignatureRequest:
    """The department's request; the resident is the one it knows by ``login_hint`` (the
    ``sub`` it received), who must hold a live signing certificate."""
    summary = {
        "en": _clean_summary(new.summary_en, "summary_en"),
        "zh": _clean_summary(new.summary_zh, "summary_zh"),
    }
    digest = _document_hash(new)
    record = tokens_repository.subject(db, client.sector_identifier, (new.login_hint or "")[:64])
    if record is None:
        raise SigningRefused("unknown_user", "no resident is known to this client by that login_hint")
    service.sweep(db, now)
    if not any(
        service.live_certificate(db, now, d.id)
        for d in devices_repository.bound_devices(db, record.account_id)
    ):
        raise SigningRefused("no_signing_certificate", "the resident holds no valid signing certificate")
    ttl = DEFAULT_TTL if new.expires_in is None else max(MIN_TTL, min(new.expires_in, MAX_TTL))
    request_id = secrets.token_urlsafe(18)
    row = SignatureRequest(
        id=request_id,
        kind=new.kind,
        client_id=client.client_id,
        department=client.department,
        client_name=client.name,
        account_id=record.account_id,
        document_sha256=digest,
        summary_sealed=seal.seal_text(
            json.dumps(summary, ensure_ascii=False), _context(request_id, "summary")
        ),
        status=PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        document_sealed=seal.seal_bytes(new.pdf, _context(request_id, "document"))
        if new.kind == PDF and new.pdf
        else None,
    )
    repository.add_request(db, row)
    _record(db, consent, row, "requested", now)
    return row


def summary_of(seal: SigningSeal, request: SignatureRequest) -> dict[str, str]:
    summary: dict[str, str] = json.loads(
        seal.open_text(request.summary_sealed, _context(request.id, "summary"))
    )
    return summary


def pending_for(db: Session, now: datetime, device: Device) -> list[SignatureRequest]:
    return list(repository.pending_for_account(db, device.account_id, now))


def describe(seal: SigningSeal, request: SignatureRequest) -> dict[str, Any]:
    """What the app shows before the resident decides."""
    summary = summary_of(seal, request)
    described: dict[str, Any] = {
        "request_id": request.id,
        "kind": request.kind,
        "department": request.department,
        "client_name": request.client_name,
        "summary_en": summary["en"],
        "summary_zh": summary["zh"],
        "document_sha256": request.document_sha256,
        "expires_at": int(request.expires_at.timestamp()),
    }
    if request.to_be_signed is not None:
        described["to_be_signed"] = b64url(request.to_be_signed)
        described["certificate_serial"] = request.certificate_serial
    return described


def _open(db: Session, now: datetime, request_id: str, device: Device, *, lock: bool) -> SignatureRequest:
    key = (request_id or "")[:32]
    request = repository.request_for_update(db, key) if lock else repository.get_request(db, key)
    if request is None or request.account_id != device.account_id:
        raise SigningRefused("not_found", "no such signature request for this device")
    if request.status != PENDING:
        raise SigningRefused("already_decided", "this signature request was already answered")
    if request.expires_at <= now:
        raise SigningRefused("expired", "this signature request has expired")
    return request


def open_for_device(
    db: Session, store: AuthorityStore, seal: SigningSeal, now: datetime, signed: SignedRequest
) -> SignatureRequest:
    """The device opens the request (action ``signature.view``): the gateway fixes what this
    device's key is to sign: the signed attributes over the document's hash (a PDF is first
    prepared, and its byte range hashed), for the device's current certificate."""
    device = signed.device
    request = _open(db, now, str(signed.claims.get("rid", "")), device, lock=True)
    service.sweep(db, now)
    current = service.live_certificate(db, now, device.id)
    if current is None:
        raise SigningRefused("no_signing_certificate", "this device holds no valid signing certificate")
    certificate = service.open_certificate(seal, current)
    if request.kind == PDF:
        assert request.document_sealed is not None  # create() stores the PDF of a pdf request
        authorities = store.current(db)
        pdf = seal.open_bytes(request.document_sealed, _context(request.id, "document"))
        try:
            prepared = pades.prepare(pdf, certificate, authorities.ca_chain, f"Signature-{request.id[:12]}")
        except pades.PdfRefused as exc:
            raise SigningRefused("invalid_document", str(exc)) from None
        request.prepared_sealed = seal.seal_bytes(prepared.prepared, _context(request.id, "prepared"))
        request.reserved_start, request.reserved_end = prepared.reserved_start, prepared.reserved_end
        digest = prepared.document_digest
        signing_time = None  # PAdES: the time is in the signature dictionary
    else:
        digest = bytes.fromhex(request.document_sha256)
        signing_time = now
    request.to_be_signed = cades.signed_attributes(digest, certificate, signing_time=signing_time)
    request.device_id = device.id
    request.certificate_serial = current.serial
    db.flush()
    return request


def decide(
    db: Session,
    store: AuthorityStore,
    seal: SigningSeal,
    consent: ConsentPort,
    now: datetime,
    signed: SignedRequest,
    *,
    approve: bool,
    signature: bytes | None,
    meta: RequestMeta | None,
) -> SignatureRequest:
    """The resident's answer. An approval (action ``signature.approve``) must come from the
    device that opened the request, name the hash of what it fixed (``tbs_sha256``), and
    bring the signing key's ECDSA signature over it."""
    device = signed.device
    request = _open(db, now, str(signed.claims.get("rid", "")), device, lock=True)
    if not approve:
        request.status = DECLINED
        request.decided_at = now
        request.device_id = device.id
        request.document_sealed = request.prepared_sealed = request.to_be_signed = None
        _record(db, consent, request, DECLINED, now)
        record_event(db, device.account_id, "signing.declined", meta, now, department=request.department)
        return request
    if request.to_be_signed is None or request.device_id != device.id or request.certificate_serial is None:
        raise SigningRefused("not_opened", "open the request on this device before approving it")
    expected = b64url(hashlib.sha256(request.to_be_signed).digest())
    if not hmac.compare_digest(str(signed.claims.get("tbs_sha256", "")), expected):
        raise SigningRefused(
            "invalid_request", "the approval names something other than what is to be signed"
        )
    service.sweep(db, now)
    row = repository.get_certificate(db, request.certificate_serial)
    if row is None or row.revoked_at is not None or row.not_after <= now or row.device_id != device.id:
        raise SigningRefused("certificate_revoked", "the signing certificate is no longer valid")
    certificate = service.open_certificate(seal, row)
    public = certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)  # issued for EC P-256 keys only
    try:
        cades.check_signature(public, request.to_be_signed, signature or b"")
    except cades.SignatureValueRefused as exc:
        raise SigningRefused("invalid_signature", str(exc)) from None
    request.result_sealed = seal.seal_bytes(
        _assemble(db, store, seal, now, request, certificate, signature or b""),
        _context(request.id, "result"),
    )
    request.status = APPROVED
    request.decided_at = now
    request.document_sealed = request.prepared_sealed = None
    grant_purpose = bilingual(GRANT_PURPOSE, digest=request.document_sha256)
    grant_id = consent.record_grant(
        db,
        ConsentRequest(
            resident_id=request.account_id,
            client_id=request.client_id,
            department=request.department,
            fields=SIGNATURE_FIELDS,
            purpose_en=grant_purpose[ENGLISH],
            purpose_zh=grant_purpose[CHINESE],
        ),
        remember=False,
        given_via="app-signature",
        now=now,
    )
    _record(db, consent, request, APPROVED, now, grant_id=grant_id)
    record_event(db, device.account_id, "signing.approved", meta, now, department=request.department)
    return request


def _assemble(
    db: Session,
    store: AuthorityStore,
    seal: SigningSeal,
    now: datetime,
    request: SignatureRequest,
    certificate: x509.Certificate,
    signature: bytes,
) -> bytes:
    """The CMS around the device's signature, time-stamped by our TSA; for a PDF, the PDF
    with that CMS in its placeholder."""
    assert request.to_be_signed is not None  # decide() checked it
    authorities = store.current(db)
    unstamped = cades.signer_info(request.to_be_signed, signature, certificate)
    token = rfc3161.token(authorities.time_stamping(), "sha256", cades.signature_value_digest(unstamped), now)
    info = cades.signer_info(request.to_be_signed, signature, certificate, [cades.timestamp_attribute(token)])
    container = bytes(cades.signed_data(info, (certificate, *authorities.ca_chain)).dump())
    if request.kind != PDF:
        return container
    assert request.prepared_sealed is not None and request.reserved_start is not None  # opened as a PDF
    assert request.reserved_end is not None
    prepared = pades.PreparedPdf(
        seal.open_bytes(request.prepared_sealed, _context(request.id, "prepared")),
        cades.message_digest_of(request.to_be_signed),
        request.reserved_start,
        request.reserved_end,
    )
    return pades.finish(prepared, container)


def poll(
    db: Session, seal: SigningSeal, consent: ConsentPort, now: datetime, client: Client, request_id: str
) -> Outcome:
    """The department's view of its own request (another client's is not found)."""
    request = repository.request_for_update(db, (request_id or "")[:32])
    if request is None or request.client_id != client.client_id:
        raise SigningRefused("not_found", "no such signature request")
    request.last_polled_at = now
    if request.status == PENDING and request.expires_at <= now:
        request.status = EXPIRED
        request.document_sealed = request.prepared_sealed = request.to_be_signed = None
        _record(db, consent, request, EXPIRED, now)
    result = None
    if request.status == APPROVED and request.result_sealed is not None:
        result = seal.open_bytes(request.result_sealed, _context(request.id, "result"))
    return Outcome(request, result)


def signer_certificate(db: Session, seal: SigningSeal, request: SignatureRequest) -> x509.Certificate | None:
    if request.certificate_serial is None:
        return None
    row = repository.get_certificate(db, request.certificate_serial)
    return service.open_certificate(seal, row) if row is not None else None
