"""A department's back-channel logout endpoint, as a department would write it: a tiny HTTP
server in a thread that verifies each logout token against the provider's published JWKS
with PyJWT (OpenID Connect Back-Channel Logout 1.0 §2.6), sharing no code with the provider.

It answers 200 to a valid token and 400 with ``invalid_request`` to anything else (§2.8), or
``fail_with`` (a status) to every request when a test plays a department that is down.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
import requests

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class LogoutReceiver:
    def __init__(self, issuer: str, jwks: dict[str, Any] | Callable[[], dict[str, Any]] | str) -> None:
        self.issuer = issuer
        self.audience: str | None = None  # the client id, once registered
        self.fail_with: int | None = None
        self.hold: threading.Event | None = None  # set: answers wait until the test releases them
        self._jwks = jwks
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.bodies: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                status, answer = receiver.receive(self.headers.get("Content-Type", ""), body)
                payload = json.dumps(answer).encode() if answer else b""
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def jwks(self) -> dict[str, Any]:
        if isinstance(self._jwks, str):
            return requests.get(self._jwks, timeout=10).json()
        return self._jwks() if callable(self._jwks) else self._jwks

    # -- the department's checks ------------------------------------------------------------

    def verify(self, token: str) -> dict[str, Any]:
        """Raises ValueError (PyJWT's errors are ValueErrors too) for a token to refuse."""
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "logout+jwt":
            raise ValueError("explicit type logout+jwt expected")
        keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(self.jwks()).keys}
        if header.get("kid") not in keys:
            raise ValueError("unknown kid")
        claims = jwt.decode(
            token,
            keys[header["kid"]].key,
            algorithms=["RS256", "ES256"],
            audience=self.audience,
            issuer=self.issuer,
            leeway=30,
            options={"require": ["iss", "aud", "iat", "exp", "jti"]},
        )
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise ValueError("no back-channel logout event")
        if "sid" not in claims and "sub" not in claims:
            raise ValueError("neither sid nor sub")
        if "nonce" in claims:
            raise ValueError("a logout token never carries a nonce")
        if claims["exp"] - claims["iat"] > 120:
            raise ValueError("lives longer than two minutes")
        return claims

    def receive(self, content_type: str, body: str) -> tuple[int, dict[str, str] | None]:
        with self._changed:
            self.bodies.append(body)
            self._changed.notify_all()
        if self.hold is not None:
            self.hold.wait(10)
        if self.fail_with is not None:
            return self.fail_with, None
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return self._refuse("form-encoded body expected")
        tokens = parse_qs(body).get("logout_token", [])
        if len(tokens) != 1:
            return self._refuse("one logout_token expected")
        try:
            claims = self.verify(tokens[0])
        except ValueError as exc:
            return self._refuse(str(exc))
        with self._changed:
            self.accepted.append(claims)
            self._changed.notify_all()
        return 200, None

    def _refuse(self, reason: str) -> tuple[int, dict[str, str]]:
        with self._changed:
            self.refused.append(reason)
            self._changed.notify_all()
        return 400, {"error": "invalid_request", "error_description": reason}

    def wait_for_bodies(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.bodies) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The accepted tokens' claims once there are ``count`` of them (or after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.accepted) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.accepted)
