"""The hub's back-channel logout endpoint (forms_hub/api/logout.py) against the fake provider:
a valid logout token ends exactly the hub sessions it names, and anything else is refused
with 400 invalid_request and ends nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import prefill_tokens, store_prefill_tokens
from kit.db import session_scope
from tests.forms_hub.conftest import sign_in
from tests.forms_hub.fake_provider import FakeProvider

ENDPOINT = "/forms/api/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def browsers(forms_app) -> Iterator[list[TestClient]]:
    clients = [TestClient(forms_app, base_url="http://testserver") for _ in range(3)]
    yield clients
    for client in clients:
        client.close()


def claims(provider: FakeProvider, **overrides):
    now = int(time.time())
    base = {
        "iss": provider.issuer,
        "aud": provider.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{time.monotonic_ns()}",
        "events": {EVENT: {}},
    }
    return {key: value for key, value in {**base, **overrides}.items() if value is not None}


def post(client: TestClient, token: str):
    return client.post(ENDPOINT, data={"logout_token": token})


def signed_in(client: TestClient) -> bool:
    return client.get("/forms/api/submissions").status_code == 200


def test_a_sid_ends_the_sessions_opened_from_that_provider_session(client, provider, browsers):
    mine, same_person_elsewhere, someone_else = browsers
    sign_in(mine, provider, "acct-1", sid="sid-a")
    sign_in(same_person_elsewhere, provider, "acct-1", sid="sid-b")
    sign_in(someone_else, provider, "acct-2", sid="sid-c")
    answer = post(client, provider.sign(claims(provider, sub="acct-1", sid="sid-a"), typ="logout+jwt"))
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert not signed_in(mine)
    assert signed_in(same_person_elsewhere) and signed_in(someone_else)


def test_a_sub_alone_ends_every_session_of_that_resident(client, provider, browsers):
    first, second, someone_else = browsers
    sign_in(first, provider, "acct-1", sid="sid-a")
    sign_in(second, provider, "acct-1")  # an ID token without sid
    sign_in(someone_else, provider, "acct-2", sid="sid-c")
    assert post(client, provider.sign(claims(provider, sub="acct-1"), typ="logout+jwt")).status_code == 200
    assert not signed_in(first) and not signed_in(second) and signed_in(someone_else)


def test_the_prefill_tokens_of_an_ended_session_are_dropped(client, provider, forms_runtime, resident):
    draft = client.post("/forms/api/submissions", json={"form": "change-of-address", "answers": {}}).json()
    keys = RelyingPartyKeys(forms_runtime.master_key)
    tokens = {"access_token": "at", "refresh_token": "rt", "expires_in": 60}
    for db in session_scope(forms_runtime.sessions):
        now = forms_runtime.clock()
        store_prefill_tokens(db, keys, draft["id"], resident, tokens, ("name",), now, "sid-p")
    token = provider.sign(claims(provider, sid="sid-p"), typ="logout+jwt")
    assert post(client, token).status_code == 200
    for db in session_scope(forms_runtime.sessions):
        assert prefill_tokens(db, keys, draft["id"]) is None


@pytest.mark.parametrize(
    ("header", "overrides", "reason"),
    [
        ({"typ": "JWT"}, {}, "typ"),  # an ID token is not a logout token
        ({}, {"nonce": "n"}, "nonce"),
        ({}, {"events": None}, "event"),
        ({}, {"events": {EVENT: "yes"}}, "event"),
        ({}, {"sub": None, "sid": None}, "neither"),
        ({}, {"aud": "another-client"}, "audience"),
        ({}, {"iss": "https://another-provider.example"}, "issuer"),
        ({}, {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 3700}, "expired"),
        ({}, {"iat": int(time.time()) + 3600}, "iat"),
        ({}, {"iat": None}, "iat"),
        ({}, {"jti": None}, "jti"),
    ],
)
def test_a_bad_logout_token_is_refused_and_ends_nothing(
    client, provider, browsers, header, overrides, reason
):
    victim = browsers[0]
    sign_in(victim, provider, "acct-1", sid="sid-a")
    body = claims(provider, **{"sub": "acct-1", "sid": "sid-a", **overrides})
    token = provider.sign(body, typ=header.get("typ", "logout+jwt"))
    answer = post(client, token)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request" and reason in body["error_description"].lower()
    assert signed_in(victim)


def test_a_token_not_signed_by_the_provider_or_no_token_is_refused(client, provider, browsers):
    victim = browsers[0]
    sign_in(victim, provider, "acct-1", sid="sid-a")
    impostor = FakeProvider(provider.issuer)  # another key under the same kid
    forged = impostor.sign(claims(provider, sub="acct-1", sid="sid-a"), typ="logout+jwt")
    for answer in (post(client, forged), post(client, "not.a.jwt"), client.post(ENDPOINT, data={})):
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert signed_in(victim)


def test_a_replayed_logout_token_is_refused(client, provider, browsers):
    first, later = browsers[0], browsers[1]
    sign_in(first, provider, "acct-1", sid="sid-a")
    token = provider.sign(claims(provider, sub="acct-1", sid="sid-a"), typ="logout+jwt")
    assert post(client, token).status_code == 200
    sign_in(later, provider, "acct-1", sid="sid-a")
    replayed = post(client, token)
    assert replayed.status_code == 400 and "already" in replayed.json()["error_description"]
    assert signed_in(later)
