"""DPoP proof validation (RFC 9449 §4.3) by the kernel, with proofs built independently
(tests/support/dpop.py signs over the ``cryptography`` package, never with the joserfc the
kernel verifies with)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.requests import Request

from kit.access_tokens import SenderConstraintFailed
from kit.dpop import (
    DpopNonces,
    DpopProofVerifier,
    InvalidProof,
    MemoryProofReplay,
    Presentation,
    access_token_hash,
    jwk_thumbprint,
    normalized_url,
    read_authorization,
    url_path,
)
from tests.support.dpop import KeyHolder, b64, sign_compact

URL = "https://id.example.gov.hk/token"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Holder(KeyHolder):
    def proof(  # type: ignore[override]
        self,
        *,
        htm: str = "POST",
        htu: str = URL,
        iat: datetime = NOW,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A proof with every claim and header under the test's control."""
        payload = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(iat.timestamp())}
        payload.update(claims)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return sign_compact(headers, payload, self.private, self.alg)


def verifier(**options: Any) -> DpopProofVerifier:
    return DpopProofVerifier(nonces=DpopNonces(b"k" * 32), replay=MemoryProofReplay(), **options)


@pytest.mark.parametrize("kind", ["EC", "RSA"])
def test_a_valid_proof_gives_the_rfc_7638_thumbprint_of_its_key(kind: str) -> None:
    holder = Holder(kind)
    proof = verifier().verify(holder.proof(), method="POST", url=URL, now=NOW)
    assert proof.jkt == holder.thumbprint == jwk_thumbprint(holder.jwk)


def test_the_rfc_7638_example_thumbprint() -> None:
    example = {  # RFC 7638 §3.1
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQ"
        "MicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcR"
        "wr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_replayed_proof_is_refused() -> None:
    check = verifier()
    proof = Holder().proof()
    check.verify(proof, method="POST", url=URL, now=NOW)
    with pytest.raises(InvalidProof, match="already used"):
        check.verify(proof, method="POST", url=URL, now=NOW + timedelta(seconds=1))


def test_a_refused_proof_is_not_remembered_so_its_jti_can_be_sent_again() -> None:
    check = verifier()
    holder = Holder()
    with pytest.raises(InvalidProof):
        check.verify(holder.proof(jti="same", htm="GET"), method="POST", url=URL, now=NOW)
    check.verify(holder.proof(jti="same"), method="POST", url=URL, now=NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"header": {"typ": "JWT"}}, "typ"),
        ({"htm": "GET"}, "method"),
        ({"htu": "https://id.example.gov.hk/userinfo"}, "URL"),
        ({"htu": "https://other.example/token"}, "URL"),
        ({"iat": NOW - timedelta(seconds=120)}, "too old"),
        ({"iat": NOW + timedelta(seconds=60)}, "not yet valid"),
        ({"jti": ""}, "jti"),
        ({"header": {"crit": ["exp"]}}, "critical"),
    ],
)
def test_proofs_made_for_something_else_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProof, match=message) as refused:
        verifier().verify(Holder().proof(**change), method="POST", url=URL, now=NOW)
    assert refused.value.error == "invalid_dpop_proof"


def test_the_url_is_compared_without_query_fragment_default_port_or_case() -> None:
    proof = Holder().proof(htu="HTTPS://ID.example.gov.hk:443/token")
    verifier().verify(proof, method="POST", url="https://id.example.gov.hk/token?x=1#y", now=NOW)
    assert normalized_url("http://127.0.0.1:8000/a?b") == "http://127.0.0.1:8000/a"


def test_a_private_key_in_the_header_is_refused() -> None:
    holder = Holder()
    private = holder.private.private_numbers().private_value  # type: ignore[union-attr]
    leaked = {**holder.jwk, "d": b64(private.to_bytes(32, "big"))}
    with pytest.raises(InvalidProof, match="public key"):
        verifier().verify(holder.proof(header={"jwk": leaked}), method="POST", url=URL, now=NOW)


def test_a_signature_by_another_key_is_refused() -> None:
    holder, other = Holder(), Holder()
    forged = holder.proof(header={"jwk": other.jwk})
    with pytest.raises(InvalidProof, match="signature"):
        verifier().verify(forged, method="POST", url=URL, now=NOW)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_unsupported_and_symmetric_algorithms_are_refused(alg: str) -> None:
    holder = Holder()
    header = b64(json.dumps({"typ": "dpop+jwt", "alg": alg, "jwk": holder.jwk}).encode())
    payload = b64(json.dumps({"jti": "j", "htm": "POST", "htu": URL, "iat": int(NOW.timestamp())}).encode())
    unsigned = f"{header}.{payload}.{b64(b'x' * 32) if alg != 'none' else ''}"
    with pytest.raises(InvalidProof, match="signed with one of"):
        verifier().verify(unsigned, method="POST", url=URL, now=NOW)


def test_ath_must_be_the_hash_of_the_presented_access_token() -> None:
    holder = Holder()
    token = "eyJ.an-access-token.sig"
    ath = b64(hashlib.sha256(token.encode()).digest())
    assert access_token_hash(token) == ath
    verifier().verify(holder.proof(ath=ath), method="POST", url=URL, now=NOW, access_token=token)
    with pytest.raises(InvalidProof, match="ath"):
        verifier().verify(holder.proof(ath=ath), method="POST", url=URL, now=NOW, access_token=token + "x")
    with pytest.raises(InvalidProof, match="ath"):
        verifier().verify(holder.proof(), method="POST", url=URL, now=NOW, access_token=token)


def test_server_nonces_are_demanded_when_required_and_expire() -> None:
    nonces = DpopNonces(b"n" * 32)
    check = DpopProofVerifier(nonces=nonces, replay=MemoryProofReplay(), require_nonce=True)
    holder = Holder()
    with pytest.raises(InvalidProof) as missing:
        check.verify(holder.proof(), method="POST", url=URL, now=NOW)
    assert missing.value.error == "use_dpop_nonce"
    nonce = nonces.issue(NOW)
    check.verify(holder.proof(nonce=nonce), method="POST", url=URL, now=NOW)
    later = NOW + timedelta(seconds=150)
    with pytest.raises(InvalidProof) as stale:
        check.verify(holder.proof(nonce=nonce, iat=later), method="POST", url=URL, now=later)
    assert stale.value.error == "use_dpop_nonce"
    other_deployment = DpopNonces(b"o" * 32).issue(NOW)
    assert not nonces.valid(other_deployment, NOW)
    assert not nonces.valid("not-a-nonce", NOW)


def test_a_nonce_is_checked_when_sent_even_where_none_is_demanded() -> None:
    with pytest.raises(InvalidProof) as refused:
        verifier().verify(Holder().proof(nonce="made-up"), method="POST", url=URL, now=NOW)
    assert refused.value.error == "use_dpop_nonce"


def test_the_authorization_header_is_read_in_both_schemes() -> None:
    assert read_authorization("Bearer abc", [], "GET", URL) == (
        "abc",
        Presentation(scheme="bearer", proof=None, method="GET", url=URL),
    )
    token, presented = read_authorization("DPoP abc", ["p1", "p2"], "GET", URL) or ("", None)
    assert token == "abc" and presented is not None and presented.multiple_proofs
    assert read_authorization("Basic abc", [], "GET", URL) is None


def test_sender_constraint_failures_are_answered_in_the_dpop_scheme() -> None:
    assert SenderConstraintFailed("x").scheme == "DPoP"
    assert SenderConstraintFailed("x", "use_dpop_nonce", "n").nonce == "n"


@pytest.mark.parametrize(
    "path",
    ["/userinfo", "/forms/api/v1/userinfo", "/a b/ü", "/odd?path", "/frag#ment", "/back\\slash", "/%41"],
)
def test_the_path_a_dpop_proof_is_checked_against_is_the_request_urls(path):
    """``url_path`` stands in for Starlette's ``request.url.path`` on the hot paths: the same
    path for every request, however odd its characters."""
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"q=1",
        "headers": [(b"host", b"gateway.example")],
        "server": ("127.0.0.1", 80),
    }
    assert url_path(scope) == Request(scope).url.path
