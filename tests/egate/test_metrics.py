"""/metrics on the whole gateway: a department's token grant, a failed sign-in and a
disclosure move their counters; the ledger's queue depth is read from the database; the
endpoint answers only its bearer token (or, without one, loopback clients no proxy relayed)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from starlette.testclient import TestClient

from consent.ledger.models import QueuedDisclosure
from consent.port import LedgerConsentPort
from egate.app import create_app
from identity.assurance import ACR_BASIC
from identity.clients.service import Registration, register
from identity.sessions.service import SESSION_COOKIE, SessionPolicy, start_session
from tests.identity.accounts.factories import create_resident, csrf_of
from tests.support.ledger import record_userinfo_disclosure

ISSUER = "https://testserver"  # Authlib refuses OAuth over plain http off loopback
REDIRECT_URI = "https://dept.example/cb"
TOKEN = "metrics-" + "x" * 40


def scrape(client: TestClient, token: str = TOKEN) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def gateway(runtime, **settings) -> TestClient:
    runtime.settings.issuer = ISSUER
    for name, setting in settings.items():
        setattr(runtime.settings, name, setting)
    return TestClient(create_app(runtime), base_url=ISSUER)


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def code_flow(client: TestClient, db, runtime, account_id: str) -> dict[str, str]:
    """A department's authorization-code flow for a signed-in resident, through consent."""
    client_row, secret = register(
        db,
        runtime.master_key,
        Registration(
            name="Transport e-Services",
            name_zh="運輸署電子服務",
            department="TD",
            redirect_uris=[REDIRECT_URI],
            allowed_scopes=("openid", "profile"),
            purpose="To renew your licence",
        ),
        runtime.clock(),
    )
    session, _ = start_session(
        db,
        SessionPolicy.from_settings(runtime.settings),
        runtime.clock(),
        account_id=account_id,
        acr=ACR_BASIC,
        amr=["pwd"],
        source=None,
        user_agent="tests",
    )
    db.commit()
    client.cookies.set(SESSION_COOKIE, session)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_row.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = client.get("/authorize?" + urlencode(query))
    assert 'name="decision"' in page.text, page.text[:300]
    approved = client.post(
        "/authorize/consent", data={**hidden_fields(page.text), "decision": "approve"}, follow_redirects=False
    )
    assert approved.status_code == 302, approved.text[:300]
    code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
    tokens = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client_row.client_id, secret),
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_a_grant_a_failed_sign_in_and_a_disclosure_move_their_metrics(db, runtime):
    account, form = create_resident(db, runtime)
    db.commit()
    client = gateway(runtime, metrics_token=TOKEN)
    before = scrape(client)

    signin = client.get("/signin")
    wrong = client.post(
        "/signin",
        data={
            "csrf_token": csrf_of(signin.text),
            "identifier": form["email"],
            "password": "not-the-password",
        },
    )
    assert wrong.status_code == 400
    tokens = code_flow(client, db, runtime, account.id)
    userinfo = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    refused = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("egate_token_grants_total", grant_type="authorization_code") == 1
    assert moved("egate_token_refusals_total", grant_type="refresh_token", error="invalid_client") == 1
    assert moved("egate_signin_failures_total", step="password", reason="wrong") == 1
    assert moved("egate_ledger_disclosures_total") == 2  # the ID token's release, then userinfo's
    # Route templates, never raw paths; each answer counted once, its latency observed once.
    assert moved("egate_http_requests_total", method="POST", route="/token", status="200") == 1
    assert moved("egate_http_requests_total", method="GET", route="/userinfo", status="200") == 1
    assert moved("egate_http_requests_total", method="POST", route="/signin", status="400") == 1
    assert moved("egate_http_request_duration_seconds_count", method="GET", route="/userinfo") == 1
    assert not any("dept.example" in str(labels) or "code=" in str(labels) for _, labels in after)

    # No sequencer runs here (no lifespan): both entries wait, as the gauge read says.
    with runtime.sessions() as session:
        queued = session.scalar(select(func.count()).select_from(QueuedDisclosure))
    assert queued == 2
    assert value(after, "egate_ledger_queue_depth") == queued
    assert value(after, "egate_ledger_integration_lag_seconds") >= 0
    assert value(after, "egate_outbox_backlog", service="identity") >= 0
    assert ("egate_outbox_backlog", frozenset({("service", "forms_hub")})) in after
    assert ("egate_db_pool_size", frozenset()) in after
    assert value(after, "egate_metrics_database_up") == 1


def test_metrics_need_the_bearer_token_when_one_is_set(runtime):
    client = gateway(runtime, metrics_token=TOKEN)
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer " + "y" * 48})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert "egate_" not in refused.text
    scrape(client)


def test_without_a_token_metrics_answer_only_loopback_clients_no_proxy_relayed(runtime):
    app = gateway(runtime).app
    assert TestClient(app, base_url=ISSUER).get("/metrics").status_code == 404  # peer "testclient"
    local = TestClient(app, base_url=ISSUER, client=("127.0.0.1", 50000))
    assert local.get("/metrics").status_code == 200
    relayed = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 404
    assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404


def test_the_ledgers_size_and_latest_checkpoint_are_read_from_the_database(db, runtime):
    """Whichever process sequences (on PostgreSQL one of its own, whose counters no worker's
    scrape sees), the tree's size and its latest checkpoint come from the database."""
    port = LedgerConsentPort(runtime)
    client = gateway(runtime, metrics_token=TOKEN)
    empty = scrape(client)
    assert value(empty, "egate_ledger_tree_size") == 0
    assert ("egate_ledger_checkpoint_age_seconds", frozenset()) not in empty  # none signed yet
    for number in range(3):
        record_userinfo_disclosure(port, db, number, runtime.clock())
        port.ledger.integrate(db, runtime.clock(), limit=100, sign=number == 1)
    db.commit()

    after = scrape(client)
    assert value(after, "egate_ledger_tree_size") == 3
    assert value(after, "egate_ledger_checkpoint_tree_size") == 2  # signed after the second
    assert value(after, "egate_ledger_checkpoint_age_seconds") >= 0
    assert value(after, "egate_ledger_queue_depth") == 0
