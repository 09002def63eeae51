"""The kernel's RFC 9068 access-token verifier and its JWKS sources, on their own: tokens are
signed here with keys made for the test, as an independent issuer would."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from jose import jwk, jwt

from kit.access_tokens import (
    MAX_JWKS_BYTES,
    MAX_JWKS_KEYS,
    AccessTokenVerifier,
    CachedJwks,
    CachedRevocationCheck,
    HttpJwks,
    InProcessJwks,
    InvalidToken,
    JwksUnavailable,
    find_key,
    remember_own_signature,
)
from kit.outbound import OutboundPolicy

ISSUER = "https://id.example"
AUDIENCE = f"{ISSUER}/consent"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())


class Key:
    def __init__(self, kid: str = "es-1", *, rsa_key: bool = False) -> None:
        if rsa_key:
            private: Any = rsa.generate_private_key(65537, 2048)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        self.private = private
        self.alg = "RS256" if rsa_key else "ES256"
        self.pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
        self.public = {
            **jwk.construct(private.public_key(), self.alg).to_dict(),
            "kid": kid,
            "use": "sig",
            "alg": self.alg,
        }


KEY = Key()


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": [ISSUER, AUDIENCE],
        "exp": NOW_TS + 300,
        "iat": NOW_TS,
        "jti": "jti-1",
        "sub": "resident-1",
        "client_id": "egate-account",
        "scope": "openid ledger:resident",
        "department": "TD",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(body: dict[str, Any], *, key: Key = KEY, **headers: Any) -> str:
    header = {"typ": "at+jwt", "kid": key.public["kid"], **headers}
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(body, key.pem, algorithm=key.alg, headers=header)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def static(*keys: Key) -> InProcessJwks:
    return InProcessJwks(lambda: {"keys": [k.public for k in keys]})


def verifier(jwks: InProcessJwks | None = None, *, now: datetime = NOW) -> AccessTokenVerifier:
    return AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks or static(KEY), clock=lambda: now)


# -- the verifier --------------------------------------------------------------------------


def test_a_valid_token_gives_typed_claims():
    verified = verifier().verify(sign(claims()))
    assert verified.issuer == ISSUER and verified.subject == "resident-1"
    assert verified.audiences == (ISSUER, AUDIENCE)
    assert verified.client_id == "egate-account" and verified.token_id == "jti-1"
    assert verified.scopes == {"openid", "ledger:resident"}
    assert verified.expires_at == NOW_TS + 300 and verified.issued_at == NOW_TS
    assert verified.raw["department"] == "TD"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_both_spellings_of_the_access_token_type_are_accepted(typ):
    assert verifier().verify(sign(claims(), typ=typ)).subject == "resident-1"


def test_an_audience_given_as_a_string_is_accepted():
    assert verifier().verify(sign(claims(aud=AUDIENCE))).audiences == (AUDIENCE,)


def test_a_token_without_scope_has_no_scopes():
    assert verifier().verify(sign(claims(scope=None))).scopes == frozenset()


def _hs256_with_the_public_key_as_secret() -> str:
    secret = json.dumps(KEY.public)
    return jwt.encode(claims(), secret, algorithm="HS256", headers={"typ": "at+jwt", "kid": "es-1"})


REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


def _resigned(token: str, *, header: str | None = None, payload: str | None = None) -> str:
    """``token`` with its header or payload segment replaced and a valid ES256 signature over
    the result (the segments need not be valid JSON: that is what is being tested)."""
    head, body, _ = token.split(".")
    signing_input = f"{header or head}.{payload or body}"
    r, s = decode_dss_signature(KEY.private.sign(signing_input.encode(), ec.ECDSA(SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


def _segment(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{body}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


REFUSED = {
    "empty": "",
    "garbage": "not-a-jwt",
    "two-parts": "a.b",
    "too-long": sign(claims(padding="x" * 9000)),
    "alg-none": b64({"alg": "none", "typ": "at+jwt"}) + "." + b64(claims()) + ".",
    "hs256-public-key-as-secret": _hs256_with_the_public_key_as_secret(),
    "rs256": sign(claims(), key=Key("es-1", rsa_key=True)),
    "id-token-typ": sign(claims(), typ="JWT"),
    "no-typ": sign(claims(), typ=None),
    "crit-header": sign(claims(), crit=["exp-ext"], **{"exp-ext": 1}),
    "other-audience": sign(claims(aud=[f"{ISSUER}/forms"])),
    "issuer-audience-only": sign(claims(aud=ISSUER)),
    "other-issuer": sign(claims(iss="https://evil.example")),
    "expired-now": sign(claims(exp=NOW_TS)),
    "expired-a-second-ago": sign(claims(exp=NOW_TS - 1)),
    "issued-beyond-the-skew": sign(claims(iat=NOW_TS + 31)),
    "not-before-beyond-the-skew": sign(claims(nbf=NOW_TS + 31)),
    "exp-is-a-string": sign(claims(exp=str(NOW_TS + 300))),
    "exp-is-a-boolean": sign(claims(exp=True)),
    "empty-sub": sign(claims(sub="")),
    "empty-client-id": sign(claims(client_id="")),
    "scope-is-a-list": sign(claims(scope=["openid"])),
    "unknown-kid": sign(claims(), key=Key("unknown")),
    "same-kid-other-key": sign(claims(), key=Key("es-1")),
    "bad-signature": _tampered(sign(claims())),
    **{f"no-{name}": sign(claims(**{name: None})) for name in REQUIRED},
}


# Signed correctly by the published key, refused for what they say or how they say it.
MALFORMED = {
    "header-not-json": _resigned(sign(claims()), header=_segment("not json")),
    "header-a-list": _resigned(sign(claims()), header=_segment('["ES256"]')),
    "payload-not-json": _resigned(sign(claims()), payload=_segment("{")),
    "payload-a-string": _resigned(sign(claims()), payload=_segment('"claims"')),
    "payload-not-utf8": _resigned(sign(claims()), payload=base64.urlsafe_b64encode(b"\xff\xfe").decode()),
    "audience-a-number": _resigned(sign(claims()), payload=b64(claims(aud=7))),
    "audience-list-with-a-number": _resigned(sign(claims()), payload=b64(claims(aud=[AUDIENCE, 7]))),
    "audience-an-object": _resigned(sign(claims()), payload=b64(claims(aud={AUDIENCE: 1}))),
    "issuer-a-list": _resigned(sign(claims()), payload=b64(claims(iss=[ISSUER]))),
}


def test_a_resigned_token_verifies_when_its_segments_are_sound():
    # The helper itself signs correctly, so the refusals below are for the content.
    assert verifier().verify(_resigned(sign(claims()), payload=b64(claims(jti="jti-2")))).token_id == "jti-2"


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_signed_but_malformed_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        verifier().verify(token)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(b"\x01" * 63, id="63-octets"),
        pytest.param(b"\x01" * 65, id="65-octets"),
        pytest.param(b"\x00" * 64, id="zero-r-and-s"),
    ],
)
def test_signatures_of_the_wrong_shape_are_refused(signature):
    head, body, _ = sign(claims()).split(".")
    token = f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="does not verify"):
        verifier().verify(token)


def test_a_signature_that_held_is_believed_again_only_under_the_same_key():
    token = sign(claims(jti="jti-remembered"))
    assert verifier().verify(token).token_id == "jti-remembered"
    assert verifier().verify(token).token_id == "jti-remembered"
    # Another key published under the same kid: the remembered signature counts for nothing.
    with pytest.raises(InvalidToken, match="does not verify"):
        verifier(static(Key("es-1"))).verify(token)
    # Nor does it outlive the key's withdrawal, or spare any other check.
    with pytest.raises(InvalidToken, match="does not publish"):
        verifier(static(Key("es-2"))).verify(token)
    with pytest.raises(InvalidToken, match="expired"):
        verifier(now=datetime(2031, 1, 1, tzinfo=UTC)).verify(token)


def test_a_token_signed_here_is_believed_without_a_check_only_under_its_key(monkeypatch):
    token = sign(claims(jti="jti-signed-here"))
    remember_own_signature(token, KEY.public)
    checks: list[str] = []
    monkeypatch.setattr(
        "kit.access_tokens._es256_signature_checks", lambda *args: checks.append("checked") or False
    )
    assert verifier().verify(token).token_id == "jti-signed-here"
    assert checks == []
    # Under another key published with the same kid, the signature is checked (and fails here).
    with pytest.raises(InvalidToken, match="does not verify"):
        verifier(static(Key("es-1"))).verify(token)
    assert checks == ["checked"]
    # Every other check still runs.
    with pytest.raises(InvalidToken, match="expired"):
        verifier(now=datetime(2031, 1, 1, tzinfo=UTC)).verify(token)


def test_remembered_signatures_are_bounded_and_the_oldest_is_forgotten_first(monkeypatch):
    monkeypatch.setattr("kit.access_tokens._MAX_REMEMBERED_SIGNATURES", 2)
    tokens = [sign(claims(jti=f"jti-bounded-{n}")) for n in range(3)]
    for token in tokens:
        remember_own_signature(token, KEY.public)
    checked: list[bytes] = []
    monkeypatch.setattr(
        "kit.access_tokens._es256_signature_checks",
        lambda _key, signing_input, _signature: checked.append(signing_input) or True,
    )
    for token in reversed(tokens):
        verifier().verify(token)
    assert checked == [tokens[0].rsplit(".", 1)[0].encode()]


def test_a_published_key_with_bad_coordinates_refuses_the_token_without_failing():
    bent = {**KEY.public, "x": KEY.public["x"][:-4]}
    with pytest.raises(InvalidToken, match="malformed"):
        verifier(InProcessJwks(lambda: {"keys": [bent]})).verify(sign(claims()))
    off_curve = {**KEY.public, "y": KEY.public["x"]}
    with pytest.raises(InvalidToken, match="malformed"):
        verifier(InProcessJwks(lambda: {"keys": [off_curve]})).verify(sign(claims()))


@pytest.mark.parametrize("token", REFUSED.values(), ids=REFUSED.keys())
def test_tokens_that_must_be_refused(token):
    with pytest.raises(InvalidToken) as refused:
        verifier().verify(token)
    assert not token or token not in str(refused.value)  # the reason never echoes the token


def test_issued_and_not_before_a_little_ahead_are_tolerated():
    assert verifier().verify(sign(claims(iat=NOW_TS + 30, nbf=NOW_TS + 30))).subject == "resident-1"


def test_expiry_can_be_skipped_by_the_issuer_itself():
    expired = sign(claims(exp=NOW_TS - 3600))
    assert verifier().verify(expired, check_expiry=False).token_id == "jti-1"
    with pytest.raises(InvalidToken):
        verifier().verify(sign(claims(exp=None)), check_expiry=False)


def test_time_is_the_service_clock_not_the_host_clock():
    token = sign(claims())
    with pytest.raises(InvalidToken, match="expired"):
        verifier(now=datetime(2031, 1, 1, tzinfo=UTC)).verify(token)
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    ts = int(long_ago.timestamp())
    assert verifier(now=long_ago).verify(sign(claims(iat=ts, exp=ts + 60))).issued_at == ts


def test_a_token_expired_by_the_host_clock_is_still_known_to_its_issuer():
    ts = int(time.time()) - 3600
    expired = sign(claims(iat=ts, exp=ts + 60))
    check = verifier(now=datetime.now(UTC))
    assert check.verify(expired, check_expiry=False).token_id == "jti-1"
    with pytest.raises(InvalidToken, match="expired"):
        check.verify(expired)


# -- choosing the key ----------------------------------------------------------------------


def test_a_token_without_kid_uses_the_only_fitting_key():
    rsa_key = Key("rs-1", rsa_key=True)
    assert verifier(static(KEY, rsa_key)).verify(sign(claims(), kid=None)).subject == "resident-1"
    with pytest.raises(InvalidToken):
        verifier(static(KEY, Key("es-2"))).verify(sign(claims(), kid=None))


@pytest.mark.parametrize(
    "published",
    [
        pytest.param({"use": "enc"}, id="encryption-key"),
        pytest.param({"alg": "ES384"}, id="other-alg"),
        pytest.param({"crv": "P-384"}, id="other-curve"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, id="symmetric"),
    ],
)
def test_a_key_that_does_not_fit_es256_is_never_used(published):
    jwks = InProcessJwks(lambda: {"keys": [{**KEY.public, **published}]})
    with pytest.raises(InvalidToken, match="does not publish"):
        verifier(jwks).verify(sign(claims()))


def test_find_key_matches_the_key_type_to_the_algorithm():
    rsa_key = Key("shared", rsa_key=True)
    es_key = Key("shared")
    jwks = static(rsa_key, es_key)
    assert find_key(jwks, "shared", "RS256") == rsa_key.public
    assert find_key(jwks, "shared", "ES256") == es_key.public


def test_an_unknown_kid_reloads_the_keys_once():
    rotated = Key("es-2")
    published = [KEY]
    loads = []

    def load() -> dict[str, Any]:
        loads.append(1)
        return {"keys": [k.public for k in published]}

    check = verifier(InProcessJwks(load, ttl_seconds=60))
    check.verify(sign(claims()))
    published.append(rotated)
    assert check.verify(sign(claims(), key=rotated)).subject == "resident-1"
    assert len(loads) == 2
    check.verify(sign(claims(), key=rotated))
    assert len(loads) == 2


# -- the caches ----------------------------------------------------------------------------


def test_the_cache_reloads_after_its_ttl_and_when_forgotten():
    loads = []
    source = InProcessJwks(lambda: loads.append(1) or {"keys": []}, ttl_seconds=60)
    source.keys()
    source.keys()
    assert len(loads) == 1
    source.forget()
    source.keys()
    assert len(loads) == 2
    source.ttl = 0
    time.sleep(0.001)
    source.keys()
    assert len(loads) == 3


def test_refreshes_are_limited_to_one_per_interval():
    loads = []
    source = InProcessJwks(lambda: loads.append(1) or {"keys": []}, ttl_seconds=60, min_refresh_seconds=60)
    for _ in range(5):
        source.keys(refresh=True)
    assert len(loads) == 1


def test_a_failed_reload_keeps_the_keys_it_had():
    documents: list[Any] = [{"keys": [KEY.public]}]

    def load() -> dict[str, Any]:
        if isinstance(documents[-1], Exception):
            raise documents[-1]
        return documents[-1]

    source = CachedJwks(load, ttl_seconds=60, min_refresh_seconds=0)
    assert source.keys() == {"keys": [KEY.public]}
    documents.append(JwksUnavailable("down"))
    assert source.keys(refresh=True) == {"keys": [KEY.public]}


def test_no_keys_at_all_is_jwks_unavailable_and_retried_only_after_the_interval():
    loads = []

    def load() -> dict[str, Any]:
        loads.append(1)
        raise JwksUnavailable("down")

    source = CachedJwks(load, ttl_seconds=60, min_refresh_seconds=60)
    for _ in range(3):
        with pytest.raises(JwksUnavailable):
            source.keys()
    assert len(loads) == 1


def test_errors_other_than_unavailability_propagate():
    def load() -> dict[str, Any]:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        InProcessJwks(load).keys()


def test_concurrent_refreshes_load_once():
    loads = []
    gate = threading.Event()

    def load() -> dict[str, Any]:
        loads.append(1)
        gate.wait(1)
        return {"keys": [KEY.public]}

    source = InProcessJwks(load, ttl_seconds=60, min_refresh_seconds=60)
    results = []
    threads = [threading.Thread(target=lambda: results.append(source.keys(refresh=True))) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(results) == 8


# -- over HTTP -----------------------------------------------------------------------------


def http_source(handler, **options: Any) -> HttpJwks:
    return HttpJwks(
        "https://id.example/jwks", client=httpx.Client(transport=httpx.MockTransport(handler)), **options
    )


def test_the_jwks_is_fetched_over_http_cached_and_refetched_for_a_new_kid():
    calls = []
    documents = [{"keys": [KEY.public]}]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json=documents[-1])

    source = http_source(handler, ttl_seconds=60, min_refresh_seconds=0)
    assert source.keys() == documents[0]
    assert source.keys() == documents[0]
    assert calls == ["https://id.example/jwks"]
    documents.append({"keys": [KEY.public, Key("rotated").public]})
    assert source.keys(refresh=True) == documents[1]
    assert len(calls) == 2


def test_an_unknown_kid_refetches_at_most_once_per_interval():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"keys": [KEY.public]})

    source = http_source(handler, ttl_seconds=60, min_refresh_seconds=60)
    for _ in range(5):
        source.keys(refresh=True)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(500), id="server-error"),
        pytest.param(httpx.Response(302, headers={"location": "https://evil.example/jwks"}), id="redirect"),
        pytest.param(httpx.Response(200, content=b"<html>"), id="not-json"),
        pytest.param(httpx.Response(200, json=["keys"]), id="not-a-jwk-set"),
        pytest.param(httpx.Response(200, json={"keys": "none"}), id="keys-not-a-list"),
        pytest.param(httpx.Response(200, json={"keys": [], "padding": "x" * MAX_JWKS_BYTES}), id="too-large"),
    ],
)
def test_a_bad_answer_is_jwks_unavailable(response):
    requested = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return response

    with pytest.raises(JwksUnavailable):
        http_source(handler).keys()
    assert requested == ["https://id.example/jwks"]  # a redirect is not followed


def test_an_unreachable_issuer_is_jwks_unavailable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    with pytest.raises(JwksUnavailable):
        http_source(handler).keys()


def test_a_huge_key_set_is_trimmed():
    many = {"keys": [{**KEY.public, "kid": f"k{i}"} for i in range(MAX_JWKS_KEYS + 10)]}
    source = http_source(lambda request: httpx.Response(200, json=many))
    assert len(source.keys()["keys"]) == MAX_JWKS_KEYS


# -- fetching a URL someone registered (an address policy) ---------------------------------

PUBLIC = "93.184.215.14"


def policy_source(handler, resolved: list[str], **options: Any) -> tuple[HttpJwks, list[tuple[str, int]]]:
    lookups: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return resolved

    source = HttpJwks(
        "https://keys.dept.example/jwks",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        address_policy=OutboundPolicy(resolve=resolve),
        **options,
    )
    return source, lookups


def test_with_an_address_policy_the_fetch_goes_to_the_checked_address():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"keys": [KEY.public]})

    source, lookups = policy_source(handler, [PUBLIC])
    assert source.keys() == {"keys": [KEY.public]}
    assert lookups == [("keys.dept.example", 443)]
    (request,) = seen
    assert request.url.host == PUBLIC and request.url.path == "/jwks"
    assert request.headers["host"] == "keys.dept.example"
    assert request.extensions["sni_hostname"] == "keys.dept.example"


def test_a_refused_address_is_never_connected_to_and_the_refusal_is_remembered():
    seen = []
    source, lookups = policy_source(
        lambda request: seen.append(request), ["10.0.0.7"], min_refresh_seconds=60
    )
    for _ in range(3):
        with pytest.raises(JwksUnavailable):
            source.keys()
    assert seen == [] and len(lookups) == 1


def test_a_failed_fetch_is_remembered_for_the_retry_interval():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    source, _ = policy_source(handler, [PUBLIC], min_refresh_seconds=60)
    for _ in range(3):
        with pytest.raises(JwksUnavailable):
            source.keys()
    assert len(calls) == 1


def test_a_body_that_trickles_in_is_cut_off():
    class Trickle(httpx.SyncByteStream):
        def __iter__(self):
            for _ in range(100):
                time.sleep(0.02)
                yield b" "

    source = http_source(lambda request: httpx.Response(200, stream=Trickle()), total_timeout_seconds=0.1)
    with pytest.raises(JwksUnavailable, match="too long"):
        source.keys()


# -- revocation ------------------------------------------------------------------------------


class RevokedSet:
    def __init__(self, *revoked: str) -> None:
        self.revoked = set(revoked)
        self.asked: list[str] = []

    def is_revoked(self, token_id: str) -> bool:
        self.asked.append(token_id)
        return token_id in self.revoked


def test_a_revoked_token_is_refused():
    check = RevokedSet("jti-revoked")
    revocable = AccessTokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks=static(KEY), clock=lambda: NOW, revocation=check
    )
    assert revocable.verify(sign(claims(jti="jti-live"))).token_id == "jti-live"
    with pytest.raises(InvalidToken, match="revoked"):
        revocable.verify(sign(claims(jti="jti-revoked")))
    with pytest.raises(InvalidToken):
        revocable.verify(sign(claims(jti="jti-forged"), key=Key()))
    assert check.asked == ["jti-live", "jti-revoked"]  # a token that does not verify costs no lookup


def test_not_revoked_is_remembered_for_seconds_and_revoked_for_good(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    check = RevokedSet()
    cached = CachedRevocationCheck(check, ttl_seconds=2)
    assert not cached.is_revoked("a") and not cached.is_revoked("a")
    assert check.asked == ["a"]
    check.revoked.add("a")
    clock[0] += 1.5
    assert not cached.is_revoked("a")  # still within the interval
    clock[0] += 1
    assert cached.is_revoked("a")
    check.revoked.clear()
    clock[0] += 100
    assert cached.is_revoked("a")  # a revocation is never undone
    assert check.asked == ["a", "a"]


def test_without_a_cache_interval_every_use_asks():
    check = RevokedSet()
    cached = CachedRevocationCheck(check, ttl_seconds=0)
    for _ in range(3):
        cached.is_revoked("a")
    assert check.asked == ["a", "a", "a"]


def test_the_cache_is_bounded():
    check = RevokedSet()
    cached = CachedRevocationCheck(check, ttl_seconds=60, max_entries=10)
    for index in range(25):
        cached.is_revoked(f"jti-{index}")
    assert len(cached._answers) <= 10
