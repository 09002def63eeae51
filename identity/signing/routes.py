"""HTTP surface of digital signing.

* Published for anyone (RFC 5280 / 6960 / 3161 media types): the CA certificate
  (``/signing/ca.pem``, ``/signing/ca.crt``), the CRL, the OCSP responder and the TSA.
* The department's API: ask for a signature, poll for the result. The department
  authenticates with its client id and secret (HTTP Basic, RFC 6749 §2.3.1, as at the token
  endpoint) under the same guessing defence, and must be registered with scope ``signing``.
* The app's API: get a signing certificate, list, open and answer signature requests, revoke
  a certificate; each call is a request signed by the bound device's key.
* The resident's page: their certificates, and revoking one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import CurrentAccount, Meta
from identity.accounts.service import RequestMeta
from identity.assurance import IAL_IN_PERSON
from identity.clients.models import Client
from identity.clients.service import check_secret, get_client
from identity.dependencies import ConsentDep, IdentitySettings, KeyringDep, MasterKey
from identity.devices.signatures import DeviceSignatureError, SignedRequest, verify_device_request
from identity.signing import flows, service
from identity.signing.authority import Authorities, SigningNotReady
from identity.signing.dependencies import RawBody, Signing, SigningDep
from identity.signing.revocation import unsuccessful
from identity.signing.rfc3161 import respond as time_stamp
from identity.signing.rfc3161 import unavailable
from identity.signing.schemas import (
    CertificateOut,
    CertificateRequestIn,
    DecisionOut,
    PendingSignature,
    RevocationIn,
    SignatureDecisionIn,
    SignatureRequestCreated,
    SignatureRequestIn,
    SignatureRequestResult,
    SignedByDevice,
)
from identity.signing.service import SigningRefused, b64url_decode
from identity.throttling import credentials
from identity.throttling.dependencies import ClientAddress
from identity.web import render
from identity.web.forms import CheckedForm, notice_from
from kit.openapi import combine, problem_responses
from kit.problems import PROBLEM_JSON
from kit.web import DbSession, Now

router = APIRouter(tags=["digital signing"])
SIGNING_SCOPE = "signing"
REALM = "signing"
NO_STORE = {"Cache-Control": "no-store"}
CA_MAX_AGE = "public, max-age=3600"
STATUS_MAX_AGE = "public, max-age=60"  # as long as a CRL or OCSP response says it is current
DER_CERTIFICATE = "application/pkix-cert"
PEM_CERTIFICATES = "application/pem-certificate-chain"  # RFC 8555 §9.1
CRL_MEDIA_TYPE = "application/pkix-crl"
OCSP_REQUEST, OCSP_RESPONSE = "application/ocsp-request", "application/ocsp-response"
TSA_QUERY, TSA_REPLY = "application/timestamp-query", "application/timestamp-reply"
CLIENT_REFUSALS = combine(problem_responses(401, challenge=True), problem_responses(403, 429))
_STATUS_CODES = {
    "not_found": 404,
    "invalid_request": 400,
    "invalid_document": 400,
    "invalid_signature": 400,
    "unknown_user": 400,
    "no_signing_certificate": 409,
    "not_proofed_in_person": 403,
    "not_allowed": 403,
    "unauthorized_client": 403,
}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"urn:egate:signing:{code}",
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**NO_STORE, **(headers or {})},
    )


def refusal(exc: SigningRefused) -> JSONResponse:
    return problem(_STATUS_CODES.get(exc.code, 409), exc.code, str(exc))


def not_ready(exc: SigningNotReady) -> JSONResponse:
    return problem(503, "signing_unavailable", str(exc), {"Retry-After": "60"})


def _published(
    db: Session,
    signing: Signing,
    content: Callable[[Authorities], bytes],
    media_type: str,
    cache_control: str,
) -> Response:
    """What the CA publishes, made from the current CA and TSA; before `egate signing-ca
    init` nothing is published (404)."""
    try:
        authorities = signing.store.current(db)
    except SigningNotReady as exc:
        return problem(404, "not_initialised", str(exc))
    return Response(content(authorities), media_type=media_type, headers={"Cache-Control": cache_control})


# -- published: the CA, its CRL and OCSP responder, the TSA ----------------------------------


@router.get(
    "/signing/ca.pem",
    response_class=Response,
    responses={200: {"content": {PEM_CERTIFICATES: {}}}, **problem_responses(404)},
)
def ca_pem(db: DbSession, signing: SigningDep) -> Response:
    """The CA certificate and any issuer above it (PEM): what verifiers trust."""
    return _published(db, signing, Authorities.published_pem, PEM_CERTIFICATES, CA_MAX_AGE)


@router.get(
    "/signing/ca.crt",
    response_class=Response,
    responses={200: {"content": {DER_CERTIFICATE: {}}}, **problem_responses(404)},
)
def ca_der(db: DbSession, signing: SigningDep) -> Response:
    """The CA certificate (DER), named in every certificate's authority information access."""

    def der(authorities: Authorities) -> bytes:
        return authorities.ca.certificate.public_bytes(Encoding.DER)

    return _published(db, signing, der, DER_CERTIFICATE, CA_MAX_AGE)


@router.get(
    "/signing/crl",
    response_class=Response,
    responses={200: {"content": {CRL_MEDIA_TYPE: {}}}, **problem_responses(404)},
)
def crl(db: DbSession, now: Now, signing: SigningDep) -> Response:
    """The CRL (RFC 5280 §5), built now; current for one minute."""
    return _published(
        db, signing, lambda authorities: service.crl(db, authorities, now), CRL_MEDIA_TYPE, STATUS_MAX_AGE
    )


def _ocsp(db: Session, now: datetime, signing: Signing, request: bytes) -> Response:
    try:
        authorities = signing.store.current(db)
    except SigningNotReady:
        answer = unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    else:
        answer = service.ocsp_response(db, authorities, now, request)
    return Response(answer, media_type=OCSP_RESPONSE, headers={"Cache-Control": "no-store"})


@router.post(
    "/signing/ocsp",
    response_class=Response,
    responses={200: {"content": {OCSP_RESPONSE: {}}}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OCSP_REQUEST: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def ocsp_post(db: DbSession, now: Now, signing: SigningDep, body: RawBody) -> Response:
    """OCSP over HTTP POST (RFC 6960 Appendix A.1)."""
    return _ocsp(db, now, signing, body)


@router.get(
    "/signing/ocsp/{encoded:path}", response_class=Response, responses={200: {"content": {OCSP_RESPONSE: {}}}}
)
def ocsp_get(encoded: str, db: DbSession, now: Now, signing: SigningDep) -> Response:
    """OCSP over HTTP GET: the DER request, base64, URL-encoded (RFC 6960 Appendix A.1)."""
    try:
        request = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        request = b""
    response = _ocsp(db, now, signing, request)
    response.headers["Cache-Control"] = STATUS_MAX_AGE
    return response


@router.post(
    "/signing/tsa",
    response_class=Response,
    responses={200: {"content": {TSA_REPLY: {}}}, **problem_responses(415)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {TSA_QUERY: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def tsa(request: Request, db: DbSession, now: Now, signing: SigningDep, body: RawBody) -> Response:
    """RFC 3161 §3.4: a TimeStampReq in, a TimeStampResp out (a refusal is a response too)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != TSA_QUERY:
        return problem(415, "unsupported_media_type", f"send a DER TimeStampReq as {TSA_QUERY}")
    try:
        answer = time_stamp(signing.store.current(db).time_stamping(), body, now)
    except SigningNotReady:
        answer = unavailable("the time-stamping authority is not initialised")
    return Response(answer, media_type=TSA_REPLY, headers=NO_STORE)


# -- the department's API --------------------------------------------------------------------


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, separator, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not separator:
        return None
    return unquote(user), unquote(password)  # RFC 6749 §2.3.1: form-urlencoded before Basic


def _client(db: Session, master_key: bytes, authorization: str | None) -> Client | None:
    """The department's client, if the Basic credentials are its id and current secret."""
    presented = _basic_credentials(authorization)
    if presented is None:
        return None
    client = get_client(db, presented[0])
    if client is None or client.client_type != "confidential":
        return None
    return client if check_secret(master_key, client.client_secret_hash, presented[1]) else None


def _as_client(
    request: Request,
    db: Session,
    now: datetime,
    master_key: bytes,
    address: str | None,
    work: Any,
) -> Response:
    """Run ``work(client)`` for an authenticated client registered for signing, under the
    guessing defence (identity/throttling/credentials.py)."""
    authorization = request.headers.get("authorization")

    def attempt() -> Response:
        client = _client(db, master_key, authorization)
        if client is None:
            return problem(
                401,
                "invalid_client",
                credentials.INVALID_CLIENT_DESCRIPTION,
                {"WWW-Authenticate": f'Basic realm="{REALM}"'},
            )
        if SIGNING_SCOPE not in (client.allowed_scopes or []):
            return problem(
                403, "unauthorized_client", f"this client is not registered for scope {SIGNING_SCOPE}"
            )
        response: Response = work(client)
        return response

    def refused(until: datetime) -> Response:
        return problem(
            429,
            "invalid_client",
            credentials.INVALID_CLIENT_DESCRIPTION,
            {"Retry-After": credentials.retry_after(until, now)},
        )

    presented = _basic_credentials(authorization)
    return credentials.guarded(
        db,
        now,
        address,
        credentials.client_credential(presented[0] if presented else None),
        attempt,
        failed=lambda response: response.status_code == 401,
        refused=refused,
    )


@router.post(
    "/signing/requests",
    status_code=201,
    response_model=SignatureRequestCreated,
    responses=combine(CLIENT_REFUSALS, problem_responses(400, 409)),
)
def create_request(
    request: Request,
    body: SignatureRequestIn,
    db: DbSession,
    now: Now,
    master_key: MasterKey,
    consent: ConsentDep,
    signing: SigningDep,
    address: ClientAddress,
) -> Response:
    """Ask the resident (named by the ``sub`` this client received) to sign a document: its
    SHA-256 (``kind`` cms) or the PDF itself (``kind`` pdf), with a summary in English and
    Chinese that the resident reads in the app. Poll ``GET /signing/requests/{id}``."""

    def work(client: Client) -> Response:
        try:
            pdf = base64.b64decode(body.document_pdf, validate=True) if body.document_pdf else None
        except (binascii.Error, ValueError):
            return problem(400, "invalid_request", "document_pdf must be base64")
        new = flows.NewRequest(
            login_hint=body.login_hint,
            kind=body.kind,
            summary_en=body.summary_en,
            summary_zh=body.summary_zh,
            document_sha256=body.document_sha256,
            pdf=pdf,
            expires_in=body.expires_in,
        )
        try:
            row = flows.create(db, signing.seal, consent, now, client, new)
        except SigningRefused as exc:
            return refusal(exc)
        expires_in = int((row.expires_at - row.created_at).total_seconds())
        created = {"request_id": row.id, "expires_in": expires_in, "interval": flows.POLL_INTERVAL}
        return JSONResponse(created, status_code=201, headers=NO_STORE)

    return _as_client(request, db, now, master_key, address, work)


@router.get(
    "/signing/requests/{request_id}",
    response_model=SignatureRequestResult,
    responses=combine(CLIENT_REFUSALS, problem_responses(404)),
)
def poll_request(
    request_id: str,
    request: Request,
    db: DbSession,
    now: Now,
    master_key: MasterKey,
    consent: ConsentDep,
    signing: SigningDep,
    address: ClientAddress,
) -> Response:
    """The request's status; once approved, the signature (or the signed PDF) and the
    signer's certificate."""

    def work(client: Client) -> Response:
        try:
            outcome = flows.poll(db, signing.seal, consent, now, client, request_id)
        except SigningRefused as exc:
            return refusal(exc)
        row = outcome.request
        answer: dict[str, Any] = {
            "request_id": row.id,
            "status": row.status,
            "kind": row.kind,
            "document_sha256": row.document_sha256,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        }
        if outcome.result is not None:
            encoded = base64.b64encode(outcome.result).decode()
            answer["signed_pdf" if row.kind == flows.PDF else "signature"] = encoded
            signer = flows.signer_certificate(db, signing.seal, row)
            if signer is not None:
                answer["certificate"] = signer.public_bytes(Encoding.PEM).decode()
        return JSONResponse(answer, headers=NO_STORE)

    return _as_client(request, db, now, master_key, address, work)


# -- the app's API ---------------------------------------------------------------------------

APP_REFUSALS = problem_responses(400, 401, 403, 404, 409, 503)


def _device(db: Session, issuer: str, now: datetime, token: str, action: str) -> SignedRequest:
    return verify_device_request(db, token, issuer=issuer, action=action, now=now)


def _device_problem(exc: DeviceSignatureError) -> JSONResponse:
    return problem(401, "invalid_signature", str(exc))


@router.post(
    "/app/signing/certificate", status_code=201, response_model=CertificateOut, responses=APP_REFUSALS
)
def request_certificate(
    body: CertificateRequestIn,
    db: DbSession,
    now: Now,
    settings: IdentitySettings,
    keyring: KeyringDep,
    signing: SigningDep,
) -> Response:
    """A signing certificate for the key the device generated (its PKCS #10 request), for a
    resident proofed in person. Signed action ``certificate.request`` with ``csr_sha256``."""
    meta = RequestMeta.of(None, "e-Gateway app")
    try:
        signed = _device(db, settings.issuer, now, body.signed, "certificate.request")
        csr = b64url_decode(body.csr, 4096)
        issued = service.issue_for_device(
            db, signing.store, signing.seal, keyring, signing.endpoints, now, signed, csr, meta
        )
    except DeviceSignatureError as exc:
        return _device_problem(exc)
    except SigningRefused as exc:
        return refusal(exc)
    except SigningNotReady as exc:
        return not_ready(exc)
    pem = Encoding.PEM
    answer = {
        "serial": issued.row.serial,
        "certificate": issued.certificate.public_bytes(pem).decode(),
        "chain": [c.public_bytes(pem).decode() for c in issued.chain],
        "not_after": issued.row.not_after.isoformat(),
    }
    return JSONResponse(answer, status_code=201, headers=NO_STORE)


@router.post("/app/signing/certificate/revoke", response_model=DecisionOut, responses=APP_REFUSALS)
def revoke_from_app(body: RevocationIn, db: DbSession, now: Now, settings: IdentitySettings) -> Response:
    """The resident revokes a certificate from the app (signed action ``certificate.revoke``)."""
    try:
        signed = _device(db, settings.issuer, now, body.signed, "certificate.revoke")
    except DeviceSignatureError as exc:
        return _device_problem(exc)
    if signed.claims.get("serial") != body.serial:
        return problem(400, "invalid_request", "signed for another certificate")
    revoked = service.revoke_on_request(
        db,
        now,
        account_id=signed.device.account_id,
        serial=body.serial,
        meta=RequestMeta.of(None, "e-Gateway app"),
    )
    if not revoked:
        return problem(404, "not_found", "no such valid certificate of yours")
    return JSONResponse({"status": "revoked"}, headers=NO_STORE)


@router.post("/app/signing/requests", response_model=list[PendingSignature], responses=APP_REFUSALS)
def pending(
    body: SignedByDevice, db: DbSession, now: Now, settings: IdentitySettings, signing: SigningDep
) -> Response:
    """Signature requests waiting for this device's resident (signed action ``signature.list``)."""
    try:
        signed = _device(db, settings.issuer, now, body.signed, "signature.list")
    except DeviceSignatureError as exc:
        return _device_problem(exc)
    listed = [flows.describe(signing.seal, r) for r in flows.pending_for(db, now, signed.device)]
    return JSONResponse(listed, headers=NO_STORE)


@router.post("/app/signing/requests/{rid}/view", response_model=PendingSignature, responses=APP_REFUSALS)
def view(
    rid: str, body: SignedByDevice, db: DbSession, now: Now, settings: IdentitySettings, signing: SigningDep
) -> Response:
    """Open a request (signed action ``signature.view``): the summary, and what this device's
    signing key is to sign (``to_be_signed``)."""
    try:
        signed = _device(db, settings.issuer, now, body.signed, "signature.view")
        if signed.claims.get("rid") != rid:
            raise SigningRefused("invalid_request", "signed for another request")
        opened = flows.open_for_device(db, signing.store, signing.seal, now, signed)
    except DeviceSignatureError as exc:
        return _device_problem(exc)
    except SigningRefused as exc:
        return refusal(exc)
    except SigningNotReady as exc:
        return not_ready(exc)
    return JSONResponse(flows.describe(signing.seal, opened), headers=NO_STORE)


@router.post("/app/signing/requests/{rid}/decision", response_model=DecisionOut, responses=APP_REFUSALS)
def decision(
    rid: str,
    body: SignatureDecisionIn,
    db: DbSession,
    now: Now,
    settings: IdentitySettings,
    consent: ConsentDep,
    signing: SigningDep,
) -> Response:
    """Approve (signed action ``signature.approve`` naming ``tbs_sha256``, with the signature
    value) or decline (``signature.decline``)."""
    approve = body.decision == "approve"
    try:
        signed = _device(
            db, settings.issuer, now, body.signed, "signature.approve" if approve else "signature.decline"
        )
        if signed.claims.get("rid") != rid:
            raise SigningRefused("invalid_request", "signed for another request")
        signature = b64url_decode(body.signature or "", 512) if approve else None
        decided = flows.decide(
            db,
            signing.store,
            signing.seal,
            consent,
            now,
            signed,
            approve=approve,
            signature=signature,
            meta=RequestMeta.of(None, "e-Gateway app"),
        )
    except DeviceSignatureError as exc:
        return _device_problem(exc)
    except SigningRefused as exc:
        return refusal(exc)
    except SigningNotReady as exc:
        return not_ready(exc)
    return JSONResponse({"status": decided.status}, headers=NO_STORE)


# -- the resident's page ---------------------------------------------------------------------


@router.get("/account/signing", include_in_schema=False)
def certificates_page(request: Request, db: DbSession, now: Now, current: CurrentAccount) -> Response:
    if current.account.kind != accounts.RESIDENT:
        return RedirectResponse("/account", status_code=303)
    context = {
        "signed_in": True,
        "notice": notice_from(request),
        "certificates": service.certificates_of(db, current.account.id, now),
        "in_person": current.account.identity_level == IAL_IN_PERSON,
        "now": now,
    }
    return render(request, "signing/certificates.html", context)


@router.post("/account/signing/{serial}/revoke", include_in_schema=False)
def revoke_from_page(
    serial: str, form: CheckedForm, db: DbSession, now: Now, meta: Meta, current: CurrentAccount
) -> Response:
    revoked = service.revoke_on_request(db, now, account_id=current.account.id, serial=serial, meta=meta)
    notice = "notice.certificate_revoked" if revoked else "notice.certificate_not_revoked"
    return RedirectResponse(f"/account/signing?notice={notice}", status_code=303)
