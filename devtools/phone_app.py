"""The resident's phone app, modelled in Python so the app flows run end to end without a
phone: `scripts/phone-app bind | scan | approve | deny | pending | certificate | documents |
sign | decline`.

It is a first-party native client of the provider (RFC 8252: public client, authorization
code + PKCE, loopback redirect) and talks to it over HTTP only, sharing no code with it. After
signing in it binds an ES256 device key; every view and decision is a JWS signed by that key.
For digital signing it generates a second key, the signing key, and asks the provider for a
certificate for it (a PKCS #10 request); documents are signed with that key after the
resident read the summary. Both keys never leave the state file (mode 0600).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

# The app is configured against the client the demo registers for it.
from egate.demo import APP_CLIENT_ID, LOOPBACK_REDIRECT
from kit.settings import Settings, load_settings

DEVICE_REQUEST_TYPE = "egate-device+jwt"


class AppError(Exception):
    pass


def request_id_from(payload: str) -> str:
    """The request id from a scanned QR payload (the universal link) or a bare id."""
    if payload.startswith("http"):
        values = parse_qs(urlsplit(payload).query).get("rid")
        if not values:
            raise AppError("this QR code is not an e-Gateway sign-in")
        return values[0]
    return payload


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PhoneApp:
    def __init__(self, issuer: str, state_path: Path | None = None, http: httpx.Client | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self.state_path = state_path
        self.http = http or httpx.Client(base_url=self.issuer, timeout=15, follow_redirects=False)
        self.state: dict[str, Any] = {}
        if state_path and state_path.exists():
            self.state = json.loads(state_path.read_text())

    # -- binding ----------------------------------------------------------------------------
    def sign_in_and_bind(
        self, identifier: str, password: str, *, otp: str | None = None, device_name: str = "Phone"
    ) -> str:
        """Sign in as the resident (the in-app browser fills the provider's sign-in page),
        get tokens for the app, then register a new device key. Returns the device id."""
        verifier = secrets.token_urlsafe(48)
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": APP_CLIENT_ID,
            "redirect_uri": LOOPBACK_REDIRECT,
            "scope": "openid app:device",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": secrets.token_urlsafe(12),
        }
        location = self._follow_sign_in(f"/authorize?{urlencode(params)}", identifier, password, otp)
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if query.get("state") != state or "code" not in query:
            raise AppError(f"sign-in did not return a code: {query.get('error', 'unknown error')}")
        tokens = self.http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": LOOPBACK_REDIRECT,
                "client_id": APP_CLIENT_ID,
                "code_verifier": verifier,
            },
        )
        if tokens.status_code != 200:
            raise AppError(f"token exchange failed: {tokens.text}")
        access_token = tokens.json()["access_token"]
        key = ec.generate_private_key(ec.SECP256R1())
        public = ECKey.import_key(key.public_key()).as_dict(private=False)
        response = self.http.post(
            "/app/devices",
            json={"name": device_name, "public_jwk": public},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 201:
            raise AppError(f"binding failed: {response.text}")
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        device_id = response.json().get("device_id")
        if not isinstance(device_id, str):
            raise AppError("binding answered without a device id")
        self.state = {
            "issuer": self.issuer,
            "device_id": device_id,
            "private_key": pem,
            "access_token": access_token,
        }
        self._save()
        return device_id

    def _follow_sign_in(self, path: str, identifier: str, password: str, otp: str | None) -> str:
        response = self.http.get(path)
        for _ in range(8):
            location: str = response.headers.get("location", "")
            if response.status_code in (302, 303) and not location.startswith("/"):
                return location  # back at the app's redirect URI
            if response.status_code in (302, 303):
                response = self.http.get(location)
                continue
            page = response.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            if token is None:
                raise AppError(f"unexpected page during sign-in (HTTP {response.status_code})")
            if 'name="password"' in page:
                data = {"csrf_token": token.group(1), "identifier": identifier, "password": password}
            elif 'name="code"' in page and otp:
                data = {"csrf_token": token.group(1), "code": otp}
            else:
                raise AppError("the provider asks for something this app cannot answer")
            response = self.http.post(response.url.raw_path.decode(), data=data)
        raise AppError("too many steps during sign-in")

    def _save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.state, handle)

    # -- signed requests --------------------------------------------------------------------
    def signed(self, action: str, **claims: Any) -> str:
        if "device_id" not in self.state:
            raise AppError("this app is not bound yet: run `scripts/phone-app bind`")
        now = int(time.time())
        key = ECKey.import_key(self.state["private_key"])
        body = {
            "aud": self.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(16),
            "action": action,
            **claims,
        }
        header = {"alg": "ES256", "typ": DEVICE_REQUEST_TYPE, "kid": self.state["device_id"]}
        return jwt.encode(header, body, key)

    def _post(self, path: str, body: dict[str, Any]) -> object:
        """The provider's JSON answer; the callers check its shape."""
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            detail = response.json().get("detail", response.text) if response.content else ""
            raise AppError(f"{response.status_code}: {detail}")
        return response.json()

    def _post_for_object(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._post(path, body)
        if not isinstance(answer, dict):
            raise AppError(f"{path} answered with something other than a JSON object")
        return answer

    def view(self, payload: str) -> dict[str, Any]:
        rid = request_id_from(payload)
        return self._post_for_object(f"/app/requests/{rid}/view", {"signed": self.signed("view", rid=rid)})

    def approve(self, payload: str, code: str) -> dict[str, Any]:
        rid = request_id_from(payload)
        signed = self.signed("approve", rid=rid, code=code)
        return self._post_for_object(
            f"/app/requests/{rid}/decision", {"decision": "approve", "signed": signed}
        )

    def deny(self, payload: str) -> dict[str, Any]:
        rid = request_id_from(payload)
        signed = self.signed("deny", rid=rid)
        return self._post_for_object(f"/app/requests/{rid}/decision", {"decision": "deny", "signed": signed})

    def pending(self) -> list[dict[str, Any]]:
        return self._post_for_list("/app/approvals", {"signed": self.signed("list")})

    def _post_for_list(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self._post(path, body)
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            raise AppError(f"{path} answered with something other than a list of objects")
        return answer

    # -- digital signing --------------------------------------------------------------------
    def request_signing_certificate(self) -> dict[str, Any]:
        """A new signing key, kept here, and a certificate for it (for a resident whose
        identity was checked in person)."""
        key = ec.generate_private_key(ec.SECP256R1())
        request = (
            x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
        )
        der = request.public_bytes(serialization.Encoding.DER)
        signed = self.signed("certificate.request", csr_sha256=_b64url(hashlib.sha256(der).digest()))
        issued = self._post_for_object("/app/signing/certificate", {"signed": signed, "csr": _b64url(der)})
        self.state["signing_key"] = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.state["signing_certificate"] = issued["certificate"]
        self.state["signing_serial"] = issued["serial"]
        self._save()
        return issued

    def revoke_signing_certificate(self) -> dict[str, Any]:
        serial = self.state.get("signing_serial")
        if not serial:
            raise AppError("this app holds no signing certificate")
        signed = self.signed("certificate.revoke", serial=serial)
        return self._post_for_object("/app/signing/certificate/revoke", {"signed": signed, "serial": serial})

    def documents(self) -> list[dict[str, Any]]:
        """Signature requests waiting for the resident."""
        return self._post_for_list("/app/signing/requests", {"signed": self.signed("signature.list")})

    def open_document(self, request_id: str) -> dict[str, Any]:
        signed = self.signed("signature.view", rid=request_id)
        return self._post_for_object(f"/app/signing/requests/{request_id}/view", {"signed": signed})

    def sign_document(self, request_id: str) -> dict[str, Any]:
        """Open the request, check that what is to be signed is the document shown, sign it
        with the signing key and send the approval."""
        opened = self.open_document(request_id)
        to_be_signed = base64.urlsafe_b64decode(
            opened["to_be_signed"] + "=" * (-len(opened["to_be_signed"]) % 4)
        )
        if opened["kind"] == "cms" and message_digest(to_be_signed).hex() != opened["document_sha256"]:
            raise AppError("what the provider asks to sign is not the document shown: refused")
        if "signing_key" not in self.state:
            raise AppError("this app holds no signing key: run `scripts/phone-app certificate`")
        key = serialization.load_pem_private_key(self.state["signing_key"].encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AppError("the stored signing key is not an EC key")
        signature = key.sign(to_be_signed, ec.ECDSA(hashes.SHA256()))
        signed = self.signed(
            "signature.approve", rid=request_id, tbs_sha256=_b64url(hashlib.sha256(to_be_signed).digest())
        )
        return self._post_for_object(
            f"/app/signing/requests/{request_id}/decision",
            {"decision": "approve", "signed": signed, "signature": _b64url(signature)},
        )

    def decline_document(self, request_id: str) -> dict[str, Any]:
        signed = self.signed("signature.decline", rid=request_id)
        return self._post_for_object(
            f"/app/signing/requests/{request_id}/decision", {"decision": "decline", "signed": signed}
        )


def message_digest(to_be_signed: bytes) -> bytes:
    """The message-digest attribute (RFC 5652 §11.2) inside the signed attributes."""
    for attribute in cms.CMSAttributes.load(to_be_signed):
        if attribute["type"].native == "message_digest":
            return bytes(attribute["values"][0].native)
    raise AppError("the signed attributes carry no message digest")


Handler = Callable[[argparse.Namespace, Settings], int]


def _app_for(args: argparse.Namespace, settings: Settings) -> PhoneApp:
    return PhoneApp(args.issuer or settings.issuer, Path(args.state))


def _bind(args: argparse.Namespace, settings: Settings) -> int:
    password = getpass.getpass("password: ") if args.password is None else args.password
    app = _app_for(args, settings)
    device = app.sign_in_and_bind(args.identifier, password, otp=args.otp, device_name=args.name)
    print(f"device bound: {device}")
    try:
        issued = app.request_signing_certificate()
    except AppError as exc:
        print(f"no signing certificate: {exc}")
    else:
        print(f"signing certificate {issued['serial']} valid until {issued['not_after']}")
    return 0


def _certificate(args: argparse.Namespace, settings: Settings) -> int:
    app = _app_for(args, settings)
    if args.revoke:
        print(app.revoke_signing_certificate()["status"])
        return 0
    issued = app.request_signing_certificate()
    print(f"signing certificate {issued['serial']} valid until {issued['not_after']}")
    print(issued["certificate"], end="")
    return 0


def _documents(args: argparse.Namespace, settings: Settings) -> int:
    for item in _app_for(args, settings).documents():
        print(f"{item['request_id']}\t{item['client_name']}\t{item['summary_en']}\t{item['summary_zh']}")
    return 0


def _sign(args: argparse.Namespace, settings: Settings) -> int:
    app = _app_for(args, settings)
    details = app.open_document(args.request_id)
    print(f"{details['client_name']} ({details['department']}) asks you to sign:")
    print(f"  {details['summary_en']}")
    print(f"  {details['summary_zh']}")
    print(f"  document SHA-256 {details['document_sha256']}")
    print(app.sign_document(args.request_id)["status"])
    return 0


def _decline(args: argparse.Namespace, settings: Settings) -> int:
    print(_app_for(args, settings).decline_document(args.request_id)["status"])
    return 0


def _scan(args: argparse.Namespace, settings: Settings) -> int:
    details = _app_for(args, settings).view(args.payload)
    print(f"{details['client_name']} ({details['department']}) asks you to sign in")
    print(f"  details to share: {', '.join(details['fields']) or 'none'}")
    print(f"  check the code on the screen: {details['code']}")
    return 0


def _approve(args: argparse.Namespace, settings: Settings) -> int:
    print(_app_for(args, settings).approve(args.payload, args.code)["status"])
    return 0


def _deny(args: argparse.Namespace, settings: Settings) -> int:
    print(_app_for(args, settings).deny(args.payload)["status"])
    return 0


def _pending(args: argparse.Namespace, settings: Settings) -> int:
    for item in _app_for(args, settings).pending():
        message = item["binding_message"] or ""
        print(f"{item['request_id']}\t{item['client_name']}\t{message}\t{item['code']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    app = argparse.ArgumentParser(
        prog="phone-app", description="the resident's phone app, for trying app sign-in"
    )
    app.add_argument("--issuer", help="the provider (default: EGATE_ISSUER)")
    app.add_argument("--state", default="data/phone-app.json", help="where the device key is kept")
    actions = app.add_subparsers(dest="app_action", required=True)
    b = actions.add_parser("bind", help="sign in and bind this 'phone'")
    b.add_argument("--identifier", required=True)
    b.add_argument("--password")
    b.add_argument("--otp")
    b.add_argument("--name", default="Phone")
    b.set_defaults(handler=_bind)
    s = actions.add_parser("scan", help="show who asks, for what, and the code")
    s.add_argument("payload", help="the QR code's content or the request id")
    s.set_defaults(handler=_scan)
    a = actions.add_parser("approve", help="approve with the device key")
    a.add_argument("payload")
    a.add_argument("--code", required=True, help="the code shown on the sign-in page")
    a.set_defaults(handler=_approve)
    d = actions.add_parser("deny", help="deny")
    d.add_argument("payload")
    d.set_defaults(handler=_deny)
    p = actions.add_parser("pending", help="approvals waiting (requests from department back-ends)")
    p.set_defaults(handler=_pending)
    c = actions.add_parser("certificate", help="get a signing certificate for a new signing key")
    c.add_argument("--revoke", action="store_true", help="revoke the current one instead")
    c.set_defaults(handler=_certificate)
    ds = actions.add_parser("documents", help="documents waiting for your signature")
    ds.set_defaults(handler=_documents)
    sg = actions.add_parser("sign", help="read the summary and sign with the signing key")
    sg.add_argument("request_id")
    sg.set_defaults(handler=_sign)
    dc = actions.add_parser("decline", help="decline to sign")
    dc.add_argument("request_id")
    dc.set_defaults(handler=_decline)
    args = app.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, load_settings())
    except AppError as exc:
        print(f"phone-app: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
