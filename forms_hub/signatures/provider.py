"""The provider's digital signing as the forms hub sees it: over HTTP only, as any department's
system would (the hub's client id and secret, HTTP Basic). The signing API, the published CA
certificate, and the OCSP responder.

Defended against: asking any host but the provider (every URL is built from the issuer, never
taken from a certificate or a PDF), OCSP answers not signed by the CA, and a CA certificate
that changes under a cached copy (it is refetched every few minutes)."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from forms_hub.oidc_client.provider import ProviderClient

CA_CACHE_SECONDS = 300.0
GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"


class SigningUnavailable(Exception):
    """The provider refused or could not be reached; the message is safe to show."""


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str


class SigningProvider:
    def __init__(self, provider: ProviderClient) -> None:
        self.issuer = provider.issuer
        self.http = provider.http
        self._lock = threading.Lock()
        self._ca: tuple[float, list[x509.Certificate]] | None = None

    def _call(self, method: str, path: str, credentials: Credentials, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(
                method, f"{self.issuer}{path}", auth=(credentials.client_id, credentials.secret), **kwargs
            )
        except httpx.HTTPError as exc:
            raise SigningUnavailable(f"the provider cannot be reached ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            detail = body.get("detail") if isinstance(body, dict) else None
            raise SigningUnavailable(str(detail or f"the provider answered {response.status_code}"))
        return body

    def ask(self, credentials: Credentials, *, sub: str, pdf: bytes, summary_en: str, summary_zh: str) -> str:
        """A signature request for ``pdf`` to the resident known to the hub as ``sub``."""
        body = {
            "login_hint": sub,
            "kind": "pdf",
            "document_pdf": base64.b64encode(pdf).decode(),
            "summary_en": summary_en[:500],
            "summary_zh": summary_zh[:500],
            "expires_in": 900,
        }
        answer = self._call("POST", "/signing/requests", credentials, json=body)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str):
            raise SigningUnavailable("the provider answered without a request id")
        return request_id

    def result(self, credentials: Credentials, request_id: str) -> dict[str, Any]:
        return self._call("GET", f"/signing/requests/{request_id}", credentials)

    def ca_certificates(self) -> list[x509.Certificate]:
        """The CA certificate and any issuer above it, as published (cached a few minutes)."""
        with self._lock:
            if self._ca and time.monotonic() - self._ca[0] < CA_CACHE_SECONDS:
                return self._ca[1]
        try:
            response = self.http.get(f"{self.issuer}/signing/ca.pem")
            certificates = (
                x509.load_pem_x509_certificates(response.content) if response.status_code == 200 else []
            )
        except (httpx.HTTPError, ValueError):
            certificates = []
        if not certificates:
            raise SigningUnavailable("the provider's signing CA certificate is not available")
        with self._lock:
            self._ca = (time.monotonic(), certificates)
        return certificates

    def status(self, certificate: x509.Certificate) -> str:
        """``good``, ``revoked`` or ``unknown``, as the provider's OCSP responder says now.

        Raises:
            SigningUnavailable: no answer, or one not signed by the CA.
        """
        ca = self.ca_certificates()[0]
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, ca, hashes.SHA256()).build()
        try:
            response = self.http.post(
                f"{self.issuer}/signing/ocsp",
                content=request.public_bytes(serialization.Encoding.DER),
                headers={"Content-Type": "application/ocsp-request"},
            )
            answer = ocsp.load_der_ocsp_response(response.content)
        except (httpx.HTTPError, ValueError):
            raise SigningUnavailable("the certificate status cannot be checked just now") from None
        if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise SigningUnavailable("the certificate status cannot be checked just now")
        public = ca.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise SigningUnavailable("the provider's CA key is not an EC key")
        try:
            public.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SigningUnavailable("the certificate status answer is not signed by the CA") from None
        if answer.serial_number != certificate.serial_number:
            raise SigningUnavailable("the certificate status answer is for another certificate")
        return {
            ocsp.OCSPCertStatus.GOOD: GOOD,
            ocsp.OCSPCertStatus.REVOKED: REVOKED,
        }.get(answer.certificate_status, UNKNOWN)
