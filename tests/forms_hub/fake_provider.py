"""A small stand-in OpenID Provider spoken to over (mocked) HTTP, for the forms hub's unit
tests: discovery, JWKS, the token endpoint (code with PKCE, refresh), userinfo. The real
provider is exercised by the end-to-end tests."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt


@dataclass
class FakeProvider:
    issuer: str
    client_id: str = "forms-hub"
    client_secret: str = "forms-hub-secret"
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # sub -> {"level": "remote" | "in_person", "claims": {...}, "trust_framework": ...}: what a
    # registration officer proofed, released as verified_claims (OIDC4IDA) when asked for.
    proofed: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    userinfo_calls: int = 0
    token_calls: list[dict[str, str]] = field(default_factory=list)
    access_ttl: int = 600
    # PAR (RFC 9126): advertised and taken when ``par``; every push refused when ``refuse_par``.
    par: bool = False
    refuse_par: bool = False
    pushed: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "fake-es256"
        self._signing = jwk.construct(self._key, "ES256")
        public = jwk.construct(self._key.public_key(), "ES256").to_dict()
        self.jwks = {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    # -- what tests use -----------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sign(self, claims: dict[str, Any], typ: str = "JWT", kid: str | None = None) -> str:
        return jwt.encode(claims, self._signing, "ES256", headers={"kid": kid or self.kid, "typ": typ})

    def department_token(self, department: str, *, scope: str = "forms:department", **overrides: Any) -> str:
        now = int(time.time())
        client_id = f"{department.lower()}-backend"
        claims = {
            "iss": self.issuer,
            "aud": [self.issuer, f"{self.issuer}/consent", f"{self.issuer}/forms"],
            "exp": now + 600,
            "iat": now,
            "jti": secrets.token_urlsafe(8),
            "client_id": client_id,
            "sub": client_id,
            "scope": scope,
            "department": department,
        }
        claims.update(overrides)
        return self.sign({k: v for k, v in claims.items() if v is not None}, typ="at+jwt")

    def authorize(
        self, url: str, sub: str, *, id_token_claims: dict[str, Any] | None = None, deny: bool = False
    ) -> str:
        """What the provider does after the resident signs in and agrees: the callback URL."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        if "request_uri" in params:  # a pushed request stands for its parameters (RFC 9126 §4)
            pushed = self.pushed.pop(params["request_uri"])
            assert pushed["client_id"] == params["client_id"]
            params = pushed
        assert params["response_type"] == "code" and params["code_challenge_method"] == "S256"
        assert params["client_id"] == self.client_id
        if deny:
            query = {"error": "access_denied", "state": params["state"], "iss": self.issuer}
            return f"{params['redirect_uri']}?{urlencode(query)}"
        code = secrets.token_urlsafe(16)
        claims_request = json.loads(params["claims"])["userinfo"] if params.get("claims") else {}
        verified_request = claims_request.pop("verified_claims", None) or {}
        self.codes[code] = {
            "sub": sub,
            "nonce": params["nonce"],
            "challenge": params["code_challenge"],
            "redirect_uri": params["redirect_uri"],
            "claims": list(claims_request),
            "verified_claims": list(verified_request.get("claims") or {}),
            "id_token_claims": id_token_claims or {},
        }
        query = urlencode({"code": code, "state": params["state"], "iss": self.issuer})
        return f"{params['redirect_uri']}?{query}"

    # -- the endpoints ------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "end_session_endpoint": f"{self.issuer}/logout",
                    **({"pushed_authorization_request_endpoint": f"{self.issuer}/par"} if self.par else {}),
                },
            )
        if path == "/par" and request.method == "POST" and self.par:
            return self._push(request)
        if path == "/jwks":
            return httpx.Response(200, json=self.jwks)
        if path == "/token" and request.method == "POST":
            return self._token(request)
        if path == "/userinfo":
            return self._userinfo(request)
        return httpx.Response(404, json={"error": "not_found"})

    def _issue(self, grant: dict[str, Any]) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24)
        self.access_tokens[access] = {**grant, "exp": time.time() + self.access_ttl}
        self.refresh_tokens[refresh] = dict(grant)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
        }

    def _authenticated(self, request: httpx.Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        return scheme == "Basic" and base64.b64decode(credentials).decode() == (
            f"{self.client_id}:{self.client_secret}"
        )

    def _push(self, request: httpx.Request) -> httpx.Response:
        if not self._authenticated(request):
            return httpx.Response(401, json={"error": "invalid_client"})
        if self.refuse_par:
            return httpx.Response(400, json={"error": "invalid_request"})
        request_uri = f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(16)}"
        self.pushed[request_uri] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        return httpx.Response(201, json={"request_uri": request_uri, "expires_in": 60})

    def _token(self, request: httpx.Request) -> httpx.Response:
        if not self._authenticated(request):
            return httpx.Response(401, json={"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.token_calls.append(form)
        if form.get("grant_type") == "refresh_token":
            grant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json=self._issue(grant))
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return httpx.Response(400, json={"error": "invalid_grant"})
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
        body = self._issue(
            {"sub": grant["sub"], "claims": grant["claims"], "verified_claims": grant["verified_claims"]}
        )
        now = int(time.time())
        id_claims = {
            "iss": self.issuer,
            "sub": grant["sub"],
            "aud": self.client_id,
            "exp": now + 600,
            "iat": now,
            "nonce": grant["nonce"],
            "acr": "urn:egate:acr:basic",
            "at_hash": _at_hash(body["access_token"]),
            **grant["id_token_claims"],
        }
        body["id_token"] = self.sign(id_claims)
        return httpx.Response(200, json=body)

    def _userinfo(self, request: httpx.Request) -> httpx.Response:
        self.userinfo_calls += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        grant = self.access_tokens.get(token)
        if grant is None or grant["exp"] < time.time():
            return httpx.Response(401, json={"error": "invalid_token"})
        profile = self.profiles.get(grant["sub"], {})
        body = {"sub": grant["sub"], **{c: profile[c] for c in grant["claims"] if c in profile}}
        proofing = self.proofed.get(grant["sub"])
        verified = (
            {c: proofing["claims"][c] for c in grant["verified_claims"] if c in proofing["claims"]}
            if proofing
            else {}
        )
        if verified:
            body["verified_claims"] = verified_claims(proofing, verified)
        return httpx.Response(200, json=body)


def verified_claims(proofing: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
    """A verified_claims element in the provider's format (OpenID Connect for Identity
    Assurance 1.0 §5)."""
    return {
        "verification": {
            "trust_framework": proofing.get("trust_framework", "hk_egate"),
            "assurance_level": proofing["level"],
            "time": "2026-12-01T10:00:00Z",
            "verification_process": "prf-1",
            "evidence": [
                {
                    "type": "document",
                    "check_details": [
                        {
                            "check_method": "vpip" if proofing["level"] == "in_person" else "vri",
                            "organization": "eGate Registration Office",
                            "time": "2026-12-01T10:00:00Z",
                        }
                    ],
                    "document_details": {
                        "type": "idcard",
                        "issuer": {"name": "Immigration Department", "country_code": "HKG"},
                    },
                }
            ],
        },
        "claims": claims,
    }


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
