"""Two `egate serve` processes on one PostgreSQL behind HAProxy: nothing a request needs
lives in one replica's memory. Signed in through A, refreshed through B; revoked through A,
refused at B; keys rotated beside A, B signs with the new key and publishes both; one
guessing counter whichever replica is asked; the ledger's sequencer fails over when its
replica is killed with ``kill -9``, and no accepted entry is lost or integrated twice."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
from sqlalchemy import func, select

from consent.config import ledger_origin
from consent.ledger import repository as ledger_repository
from consent.ledger.models import LedgerEntry
from consent.ledger.service import Ledger
from consent.ledger.verifier import verify_export
from consent.port import LedgerConsentPort
from identity.accounts import service as accounts
from identity.accounts.schemas import Enrolment
from identity.clients.service import Registration, register
from identity.consent_port import ConsentRequest
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.e2e.conftest import form_fields, random_hkid
from tests.support.databases import TEST_SETTINGS, make_settings, new_database_url
from tests.support.haproxy import Proxy, start_proxy
from tests.support.ledger import wait_for_integration
from tests.support.live_server import free_port

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
REDIRECT_URI = "https://td.example.gov.hk/callback"
PASSWORD = "a long demo passphrase"
ADMIN_TOKEN = "admin-test-token-0123456789abcdef-xyz"
METRICS_TOKEN = "metrics-test-token-0123456789abcdef-xyz"


@dataclass
class Deployment:
    proxy: Proxy
    replicas: dict[str, subprocess.Popen[bytes]]
    runtime: Runtime
    client_id: str
    secret: str

    @property
    def base(self) -> str:
        return self.proxy.base_url

    def via(self, replica: str) -> dict[str, str]:
        return {"X-Replica": replica}

    def get(self, replica: str, path: str, **kwargs) -> requests.Response:
        return requests.get(
            self.base + path, headers=self.via(replica) | kwargs.pop("headers", {}), timeout=20, **kwargs
        )

    def token(self, replica: str, **data: str) -> requests.Response:
        return requests.post(
            f"{self.base}/token",
            data=data,
            auth=(self.client_id, self.secret),
            headers=self.via(replica),
            timeout=20,
        )


def _replica(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "a replica exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("a replica did not become ready")


@pytest.fixture
def deployment(request, tmp_path) -> Iterator[Deployment]:
    url = new_database_url("postgresql", request, tmp_path)
    proxy_port, ports = free_port(), {"a": free_port(), "b": free_port()}
    issuer = f"http://127.0.0.1:{proxy_port}"
    settings = make_settings(tmp_path, database_url=url, issuer=issuer, admin_token=ADMIN_TOKEN)
    engine = create_db_engine(url)
    migrations.upgrade(engine)
    runtime = Runtime(settings, engine, create_session_factory(engine), load_master_key(settings))
    for db in session_scope(runtime.sessions):
        client, secret = register(
            db,
            runtime.master_key,
            Registration(
                name="Transport Department",
                department="TD",
                redirect_uris=[REDIRECT_URI],
                grant_types=("authorization_code", "refresh_token", "client_credentials"),
                allowed_scopes=("openid", "profile", "ledger:department"),
                purpose="Licensing",
            ),
            runtime.clock(),
        )
    env = {
        **os.environ,
        **{f"EGATE_{k.upper()}": str(v) for k, v in TEST_SETTINGS.items()},
        "EGATE_DATABASE_URL": url,
        "EGATE_ISSUER": issuer,
        "EGATE_DATA_DIR": str(tmp_path),
        "EGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "EGATE_METRICS_TOKEN": METRICS_TOKEN,
        "EGATE_TRUSTED_PROXIES": "127.0.0.1",
        "EGATE_LOG_LEVEL": "warning",
        "EGATE_CONSENT_SEQUENCER_LEASE_SECONDS": "1",
    }
    replicas = {}
    proxy = None
    try:
        for name, port in ports.items():
            replicas[name] = _replica(env, port)
        for name, port in ports.items():
            _ready(port, replicas[name])
        proxy = start_proxy(tmp_path, proxy_port, ports)
        yield Deployment(proxy, replicas, runtime, client.client_id, secret or "")
    finally:
        if proxy is not None:
            proxy.stop()
        for process in replicas.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        engine.dispose()


def new_resident(deployment: Deployment, *, totp: bool = False) -> tuple[str, str, str | None]:
    """(account id, email, TOTP secret); a remembered consent to the client's profile fields."""
    runtime = deployment.runtime
    keyring = build_keyring(runtime.master_key, runtime.settings.field_key_generation)
    email = f"resident-{secrets.token_hex(5)}@example.hk"
    enrolment = Enrolment(
        hkid=random_hkid(),
        name="CHAN Tai Man",
        name_zh=None,
        birthdate=date(1980, 5, 17),
        gender="male",
        address="Flat A, 12/F, 1 Queen's Road Central, Hong Kong",
        phone="+85291234567",
        email=email,
        password=PASSWORD,
    )
    secret = None
    for db in session_scope(runtime.sessions):
        now = runtime.clock()
        account = accounts.enrol_resident(
            db, keyring, hasher_for(runtime.settings), enrolment, None, now=now, email_verified=True
        )
        if totp:
            secret = accounts.begin_totp_setup(keyring, account)
            accounts.confirm_totp(db, keyring, account, pyotp.TOTP(secret).now(), None, now)
        request = ConsentRequest(
            account.id,
            deployment.client_id,
            "TD",
            ("name", "name#zh-HK", "birthdate", "gender"),
            "Licensing",
            "發牌",
        )
        LedgerConsentPort().record_grant(db, request, remember=True, given_via="test", now=now)
        account_id = account.id
    return account_id, email, secret


class Browser:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.session = requests.Session()

    def sign_in(self, replica: str, email: str, password: str) -> requests.Response:
        base, headers = self.deployment.base, self.deployment.via(replica)
        page = self.session.get(f"{base}/signin", headers=headers, timeout=20)
        fields = form_fields(page.text.split("</form>", 1)[0])
        fields.update(identifier=email, password=password)
        return self.session.post(
            f"{base}/signin", data=fields, headers=headers, allow_redirects=False, timeout=20
        )

    def code(self, replica: str) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        response = self.session.get(
            f"{self.deployment.base}/authorize",
            params={
                "response_type": "code",
                "client_id": self.deployment.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile",
                "state": "s",
                "nonce": "n",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            headers=self.deployment.via(replica),
            allow_redirects=False,
            timeout=20,
        )
        assert response.status_code in (302, 303), response.text[:500]
        return parse_qs(urlsplit(response.headers["location"]).query)["code"][0], verifier


def kid_of(jwt: str) -> str:
    header = jwt.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_two_replicas_behind_haproxy_share_everything_and_the_sequencer_fails_over(deployment):
    d = deployment
    _, email, _ = new_resident(d)

    # Signed in through A (the password form), the grant through A, refreshed through B.
    browser = Browser(d)
    signed_in = browser.sign_in("a", email, PASSWORD)
    assert signed_in.status_code == 303 and not signed_in.headers["location"].startswith("/signin")
    code, verifier = browser.code("a")
    tokens = d.token(
        "a", grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    assert tokens.status_code == 200, tokens.text
    refreshed = d.token("b", grant_type="refresh_token", refresh_token=tokens.json()["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["access_token"]
    assert d.get("b", "/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200

    # Revoked through A, refused at B: the refresh token at once, the access token at userinfo.
    latest = refreshed.json()["refresh_token"]
    for token in (latest, access):
        revoked = requests.post(
            f"{d.base}/revoke",
            data={"token": token},
            auth=(d.client_id, d.secret),
            headers=d.via("a"),
            timeout=20,
        )
        assert revoked.status_code == 200
    refused = d.token("b", grant_type="refresh_token", refresh_token=latest)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert d.get("b", "/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401

    # Keys rotated beside A (the operator's command on A's host): B signs with the new key
    # once its cache of the active keys expires (10 s), and publishes the old key too.
    before = {key["kid"] for key in d.get("b", "/jwks").json()["keys"]}
    old_kid = kid_of(
        d.token("b", grant_type="client_credentials", scope="ledger:department").json()["access_token"]
    )
    env = {**os.environ, **{f"EGATE_{k.upper()}": str(v) for k, v in TEST_SETTINGS.items()}}
    env.update(
        EGATE_DATABASE_URL=d.runtime.settings.database_url or "", EGATE_ISSUER=d.runtime.settings.issuer
    )
    env.update(EGATE_DATA_DIR=str(d.runtime.settings.data_dir))
    rotated = subprocess.run(
        [sys.executable, "-m", "egate.cli", "keys", "rotate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rotated.returncode == 0, rotated.stderr
    deadline = time.monotonic() + 30
    while True:
        issued = d.token("b", grant_type="client_credentials", scope="ledger:department").json()[
            "access_token"
        ]
        if kid_of(issued) != old_kid:
            break
        assert time.monotonic() < deadline, "B never signed with the rotated key"
        time.sleep(0.5)
    published = {key["kid"] for key in d.get("b", "/jwks").json()["keys"]}
    assert kid_of(issued) in published and before <= published

    # One guessing counter: five wrong passwords spread over A and B, then B and A both
    # make this browser (the same client address, forwarded by the proxy) wait.
    _, guessed, _ = new_resident(d, totp=True)
    guesser = Browser(d)
    for attempt in range(5):
        assert guesser.sign_in("ab"[attempt % 2], guessed, "not the passphrase").status_code == 400
    assert guesser.sign_in("b", guessed, PASSWORD).status_code == 429
    assert guesser.sign_in("a", guessed, PASSWORD).status_code == 429

    # The sequencer: whichever replica holds the lease is killed with kill -9 while releases
    # go on; the other takes over and every accepted entry is integrated exactly once.
    wait_for_integration(d.runtime.sessions)
    for db in session_scope(d.runtime.sessions):
        holder, _ = ledger_repository.read_lease(db)
    assert holder is not None
    leader = next(name for name, p in d.replicas.items() if f":{p.pid}:" in holder)
    survivor = "b" if leader == "a" else "a"
    code, verifier = browser.code(survivor)
    grant = d.token(
        survivor,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    bearer = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    for _ in range(10):
        assert d.get(leader, "/userinfo", headers=bearer).status_code == 200
    d.replicas[leader].send_signal(signal.SIGKILL)
    d.replicas[leader].wait(timeout=10)
    released = 0
    for _ in range(40):  # through the proxy: HAProxy takes the dead replica out of the rotation
        if requests.get(f"{d.base}/userinfo", headers=bearer, timeout=20).status_code == 200:
            released += 1
    assert released >= 35
    wait_for_integration(d.runtime.sessions, timeout=30)
    for db in session_scope(d.runtime.sessions):
        holder, _ = ledger_repository.read_lease(db)
        assert f":{d.replicas[survivor].pid}:" in (holder or "")
        entries = db.scalar(select(func.count()).select_from(LedgerEntry))
        distinct = db.scalar(select(func.count(func.distinct(LedgerEntry.entry_id))))
        assert entries == distinct == ledger_repository.read_frontier(db).tree_size
    ledger = Ledger(origin=ledger_origin(d.runtime.settings.issuer), master_key=d.runtime.master_key)
    for db in session_scope(d.runtime.sessions):
        ledger.sign_checkpoint(db, datetime.now(UTC))
        vkey = ledger.verifier_key(db, datetime.now(UTC)).vkey
    report = verify_export(ledger.export_lines(d.runtime.sessions), vkey)
    assert report.ok, report.first_error
    assert report.entries_checked == entries >= 10 + released

    # /metrics through the proxy: only with the deployment's token; the survivor's grant
    # counted, the ledger's queue read empty from the shared database.
    assert requests.get(f"{d.base}/metrics", timeout=20).status_code == 401
    scraped = requests.get(
        f"{d.base}/metrics",
        headers=d.via(survivor) | {"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=20,
    )
    assert scraped.status_code == 200
    assert 'egate_token_grants_total{grant_type="authorization_code"}' in scraped.text
    assert "egate_ledger_queue_depth 0.0" in scraped.text
    # Integrated by the sequencer processes, counted by none of the scraped workers: read
    # from the database, the tree's size and the checkpoint signed above.
    assert f"egate_ledger_tree_size {float(entries)}" in scraped.text
    assert f"egate_ledger_checkpoint_tree_size {float(entries)}" in scraped.text
