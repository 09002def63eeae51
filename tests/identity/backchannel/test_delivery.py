"""Logout tokens delivered to a department's receiver (tests/support/logout_receiver.py, which
verifies them with PyJWT against the published JWKS), retried with backoff when it fails,
and given up visibly; on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from sqlalchemy import select

from identity.backchannel import service
from identity.backchannel.delivery import LogoutCourier
from identity.backchannel.logout_token import LogoutTokenSigner
from identity.backchannel.models import DELIVERED, FAILED, PENDING, LogoutDelivery
from identity.keys.service import KeyCache, ensure_keys, published_jwks
from identity.sessions.service import session_reference
from identity.tokens.subjects import SubjectIdentifiers
from kit.db import utcnow
from kit.outbound import OutboundPolicy
from tests.identity.accounts.factories import create_resident
from tests.identity.backchannel.factories import LOOPBACK, department, holds, session
from tests.support.logout_receiver import LogoutReceiver


class Clock:
    """Real time, which a test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self):
        return utcnow() + self.offset


@pytest.fixture
def clock(runtime) -> Clock:
    clock = Clock()
    runtime.clock = clock
    return clock


@pytest.fixture
def receiver(db, runtime, clock):
    ensure_keys(db, runtime.master_key, clock())
    db.flush()
    receiver = LogoutReceiver(runtime.settings.issuer, published_jwks(db, clock()))
    yield receiver
    receiver.stop()


def courier(runtime, clock, policy: OutboundPolicy = LOOPBACK) -> LogoutCourier:
    signer = LogoutTokenSigner(
        runtime.settings.issuer, KeyCache(runtime.master_key), SubjectIdentifiers(runtime.master_key)
    )
    return LogoutCourier(runtime.sessions, signer, policy, clock)


def rows(db):
    db.expire_all()
    return db.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)).all()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_the_token_verifies_at_the_department_and_names_its_sub_and_sid(db, runtime, clock, receiver, alg):
    account, _ = create_resident(db, runtime)
    ended = session(db, runtime, account.id)
    client = department(db, runtime, receiver.url, id_token_signed_response_alg=alg)
    receiver.audience = client.client_id
    holds(db, client, account.id, ended, clock())
    service.announce_logout(db, account.id, [ended], clock(), service.SIGNED_OUT)
    db.flush()

    [outcome] = courier(runtime, clock).deliver_due()
    assert outcome.error is None
    [claims] = receiver.wait_for(1)
    assert receiver.refused == []
    [body] = receiver.bodies
    token = parse_qs(body)["logout_token"][0]
    assert list(parse_qs(body)) == ["logout_token"]
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt" and header["alg"] == alg
    # The same sub and sid as the department's ID tokens carry (identity/oidc/tokens.py).
    assert claims["sub"] == SubjectIdentifiers(runtime.master_key).for_client(
        account.id, "pairwise", client.sector_identifier
    )
    assert claims["sid"] == session_reference(ended)
    assert claims["aud"] == client.client_id and claims["iss"] == runtime.settings.issuer
    assert 0 < claims["exp"] - claims["iat"] <= 120 and "nonce" not in claims
    assert [row.state for row in rows(db)] == [DELIVERED]


def test_the_receiver_refuses_a_token_with_a_nonce_or_of_another_type(db, runtime, clock, receiver):
    receiver.audience = "td"
    key = KeyCache(runtime.master_key).signing_key(db, "RS256")
    now = int(clock().timestamp())
    claims = {
        "iss": runtime.settings.issuer,
        "aud": "td",
        "iat": now,
        "exp": now + 60,
        "jti": "j1",
        "sub": "someone",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }

    def post(header: dict, claims: dict) -> int:
        token = jose_jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key.key)
        return httpx.post(receiver.url, data={"logout_token": token}, timeout=5).status_code

    assert post({"typ": "logout+jwt"}, claims) == 200
    assert post({"typ": "logout+jwt"}, {**claims, "nonce": "n"}) == 400
    assert post({"typ": "JWT"}, claims) == 400  # an ID token is not a logout token
    assert post({"typ": "logout+jwt"}, {k: v for k, v in claims.items() if k != "events"}) == 400
    assert len(receiver.accepted) == 1 and "nonce" in receiver.refused[0]


def test_a_failing_department_gets_retries_with_backoff_then_the_delivery_fails(
    db, runtime, clock, receiver, caplog
):
    account, _ = create_resident(db, runtime)
    ended = session(db, runtime, account.id)
    client = department(db, runtime, receiver.url)
    receiver.audience = client.client_id
    receiver.fail_with = 503
    holds(db, client, account.id, ended, clock())
    service.announce_logout(db, account.id, [ended], clock(), service.SIGNED_OUT)
    db.flush()
    sender = courier(runtime, clock)
    caplog.set_level(logging.INFO, logger="identity.backchannel.delivery")

    for attempt in range(1, service.MAX_ATTEMPTS + 1):
        [outcome] = sender.deliver_due()
        assert outcome.error == "answered HTTP 503"
        assert sender.deliver_due() == []  # not due again before its backoff
        [row] = rows(db)
        assert row.attempts == attempt
        if attempt < service.MAX_ATTEMPTS:
            assert row.state == PENDING
            clock.offset += service.retry_delay(attempt)
    assert row.state == FAILED and row.last_error == "answered HTTP 503"
    assert len(receiver.bodies) == service.MAX_ATTEMPTS
    # Every attempt signs a fresh token: a new jti each time.
    jtis = {pyjwt.decode(parse_qs(b)["logout_token"][0], options={"verify_signature": False})["jti"]
            for b in receiver.bodies}  # fmt: skip
    assert len(jtis) == service.MAX_ATTEMPTS
    assert "answered HTTP 503" in caplog.text and client.client_id in caplog.text
    assert not any(parse_qs(b)["logout_token"][0] in caplog.text for b in receiver.bodies)
    assert not any(record.levelno >= logging.ERROR for record in caplog.records)

    [shown] = service.deliveries(db, failed_only=True)
    assert shown.id == row.id and shown.client_id == client.client_id
    clock.offset = timedelta(0)  # the receiver checks iat against the real time
    receiver.fail_with = None
    assert service.retry(db, row.id, clock())
    db.flush()
    [outcome] = sender.deliver_due()
    assert outcome.error is None and len(receiver.wait_for(1)) == 1
    assert [r.state for r in rows(db)] == [DELIVERED]


def test_a_destination_the_outbound_policy_refuses_is_never_contacted(db, runtime, clock, receiver):
    account, _ = create_resident(db, runtime)
    ended = session(db, runtime, account.id)
    client = department(db, runtime, "https://td.example/logout")
    client.backchannel_logout_uri = receiver.url  # stored before the rule, or edited by hand
    holds(db, client, account.id, ended, clock())
    service.announce_logout(db, account.id, [ended], clock(), service.SIGNED_OUT)
    db.flush()

    [outcome] = courier(runtime, clock, OutboundPolicy()).deliver_due()  # production's rule
    assert outcome.error is not None and "must" in outcome.error
    assert receiver.bodies == []
    [row] = rows(db)
    assert row.state == PENDING and row.attempts == 1


def test_one_thread_at_a_time_drains_the_queue(db, runtime, clock, receiver):
    """A sign-out while a delivery is under way does not take a second worker thread: the
    running drain goes round once more and delivers it too."""
    account, _ = create_resident(db, runtime)
    first, second = session(db, runtime, account.id), session(db, runtime, account.id)
    client = department(db, runtime, receiver.url)
    receiver.audience = client.client_id
    holds(db, client, account.id, first, clock())
    holds(db, client, account.id, second, clock())
    service.announce_logout(db, account.id, [first], clock(), service.SIGNED_OUT)
    db.flush()
    sender = courier(runtime, clock)
    receiver.hold = threading.Event()
    draining = threading.Thread(target=sender.drain)
    draining.start()
    receiver.wait_for_bodies(1)  # the first delivery is on the wire, no session open
    service.announce_logout(db, account.id, [second], clock(), service.SIGNED_OUT)
    db.flush()
    sender.drain()  # returns at once: the running drain will take it
    assert len(receiver.bodies) == 1
    receiver.hold.set()
    draining.join(10)
    assert {claims["sid"] for claims in receiver.wait_for(2)} == {
        session_reference(first),
        session_reference(second),
    }
    assert [row.state for row in rows(db)] == [DELIVERED, DELIVERED]
