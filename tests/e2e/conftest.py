"""A real gateway over HTTP per backend, and what a department and a resident's browser need.

The department side uses requests-oauthlib (oauthlib) and python-jose: client code that
shares nothing with the provider's Authlib-based server.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import requests

from egate.app import create_app
from identity.accounts.schemas import Enrolment
from identity.accounts.service import enrol_resident
from identity.assurance import ACR_BASIC
from identity.clients.service import Registration, register
from identity.residents.hkid import check_digit
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from identity.sessions.service import SESSION_COOKIE, SessionPolicy, start_session
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope, utcnow
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.support.databases import make_settings, new_database_url
from tests.support.live_server import free_port, start_live_server

REDIRECT_URI = "https://dept.example.gov.hk/callback"
ADMIN_TOKEN = "admin-test-token-0123456789abcdef-xyz"  # EGATE_ADMIN_TOKEN: 32 characters at least
# oauthlib insists on https; the test provider runs on loopback http (RFC 8252 §7.3 allows it).
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def random_hkid() -> str:
    prefix = secrets.choice("ABCDEGHKMPRZ") + f"{secrets.randbelow(10**6):06d}"
    return prefix + check_digit(prefix)


class ShiftableClock:
    """The gateway's clock: real time, which a test may move forward for a while (the
    services read their clock on every request, so the running server follows at once)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    @contextmanager
    def shifted(self, **delta: float) -> Iterator[None]:
        self.offset += timedelta(**delta)
        try:
            yield
        finally:
            self.offset -= timedelta(**delta)


@dataclass
class Gateway:
    base_url: str
    runtime: Runtime

    def discovery(self) -> dict[str, Any]:
        return requests.get(f"{self.base_url}/.well-known/openid-configuration", timeout=10).json()

    def register_client(self, **overrides: Any) -> tuple[str, str | None]:
        fields: dict[str, Any] = dict(
            name="Demo Department Portal",
            department="DEMO",
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=("https://dept.example.gov.hk/signed-out",),
            grant_types=("authorization_code", "refresh_token", "client_credentials"),
            allowed_scopes=("openid", "profile", "email", "phone", "address", "hkid"),
            purpose="To process your application",
            purpose_zh="處理你的申請",
            client_id=f"dept-{secrets.token_hex(5)}",
        )
        fields.update(overrides)
        for db in session_scope(self.runtime.sessions):
            client, secret = register(
                db,
                self.runtime.master_key,
                Registration(**fields),
                self.runtime.clock(),
                outbound=self.runtime.settings.outbound_policy,
            )
            client_id = client.client_id
        return client_id, secret

    def new_resident(self, password: str = "a long demo passphrase", email: str | None = None) -> str:
        enrolment = Enrolment(
            hkid=random_hkid(),
            name="CHAN Tai Man",
            name_zh="陳大文",
            birthdate=date(1980, 5, 17),
            gender="male",
            address="Flat A, 12/F, 1 Queen's Road Central, Hong Kong",
            phone="+85291234567",
            email=email or f"resident-{secrets.token_hex(4)}@example.hk",
            password=password,
        )
        for db in session_scope(self.runtime.sessions):
            account = enrol_resident(
                db,
                build_keyring(self.runtime.master_key, self.runtime.settings.field_key_generation),
                hasher_for(self.runtime.settings),
                enrolment,
                None,
                now=self.runtime.clock(),
                email_verified=True,
            )
            account_id = account.id
        return account_id

    def browser(
        self, account_id: str, acr: str = ACR_BASIC, amr: tuple[str, ...] = ("pwd",)
    ) -> requests.Session:
        """A browser that already holds a sign-in session (sign-in itself is tested elsewhere)."""
        for db in session_scope(self.runtime.sessions):
            token, _ = start_session(
                db,
                SessionPolicy.from_settings(self.runtime.settings),
                self.runtime.clock(),
                account_id=account_id,
                acr=acr,
                amr=list(amr),
                source=None,
                user_agent="tests",
            )
        browser = requests.Session()
        browser.cookies.set(SESSION_COOKIE, token, domain="127.0.0.1", path="/")
        return browser


@pytest.fixture(scope="session")
def gateway(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp(f"gateway-{backend}")
    port = free_port()
    url = new_database_url(backend, request, tmp)
    settings = make_settings(
        tmp,
        database_url=url,
        issuer=f"http://127.0.0.1:{port}",
        admin_token=ADMIN_TOKEN,
    )
    # Reads-first on both backends (EGATE_DATABASE_READS_FIRST: `egate serve`'s default on
    # SQLite, an operator's choice on PostgreSQL): the hot paths' journeys here take that way,
    # their inserts in each loop turn's batch (kit.insert_batches); the tests through the ASGI
    # app build their engines without it and take the usual way.
    engine = create_db_engine(settings.effective_database_url, reads_first=True)
    migrations.upgrade(engine)
    runtime = Runtime(
        settings, engine, create_session_factory(engine), load_master_key(settings), clock=ShiftableClock()
    )
    server = start_live_server(create_app(runtime), port)
    yield Gateway(server.base_url, runtime)
    server.stop()
    engine.dispose()


def form_fields(page: str) -> dict[str, str]:
    fields = {}
    for match in re.finditer(r"<input[^>]*>", page):
        tag = match.group(0)
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields
