"""Headless Chromium (Debian's package, driven by Playwright) against a real gateway served by
uvicorn, once per database backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from egate.app import create_app
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.identity.accounts.factories import (
    PASSWORD,
    hasher_of,
    keyring_of,
    outbox_messages,
    random_email,
    random_hkid,
)
from tests.support.databases import make_settings, new_database_url
from tests.support.live_server import free_port, start_live_server


@dataclass
class Site:
    base_url: str
    runtime: Runtime

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_resident(self, *, totp: bool = False, email_verified: bool = True) -> dict:
        """A resident enrolled directly (the enrolment page itself is tested in the journey)."""
        import pyotp

        from identity.accounts import service as accounts
        from identity.accounts.schemas import Enrolment
        from identity.residents.hkid import format_hkid

        hkid = random_hkid()
        enrolment = Enrolment(
            hkid=hkid,
            name="LEE Siu Ming",
            name_zh=None,
            birthdate=date(1985, 1, 2),
            gender="female",
            address="1 Nathan Road, Kowloon",
            phone="+85261234567",
            email=random_email(),
            password=PASSWORD,
        )
        result = {"hkid": format_hkid(hkid), "email": enrolment.email, "password": PASSWORD}
        keyring, now = keyring_of(self.runtime), self.runtime.clock()
        for db in session_scope(self.runtime.sessions):
            account = accounts.enrol_resident(
                db, keyring, hasher_of(self.runtime), enrolment, None, now=now, email_verified=email_verified
            )
            result["id"] = account.id
            if totp:
                secret = accounts.begin_totp_setup(keyring, account)
                code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
                result["recovery_codes"] = accounts.confirm_totp(db, keyring, account, code, None, now)
                result["totp_secret"] = secret
        return result

    def latest_code(self, recipient: str) -> str:
        import re

        with self.runtime.sessions() as db:
            for message in reversed(outbox_messages(db, self.runtime)):
                if message.recipient == recipient:
                    return re.search(r"\b(\d{6})\b", message.body).group(1)
        raise AssertionError(f"no message to {recipient}")


@pytest.fixture(scope="session")
def site(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp(f"site-{backend}")
    port = free_port()
    settings = make_settings(
        tmp,
        database_url=new_database_url(backend, request, tmp),
        issuer=f"http://127.0.0.1:{port}",
        demo=True,  # as `egate serve --demo` on a developer's machine: the demo mailbox is on
    )
    engine = create_db_engine(settings.effective_database_url)
    migrations.upgrade(engine)
    runtime = Runtime(settings, engine, create_session_factory(engine), load_master_key(settings))
    server = start_live_server(create_app(runtime), port)
    yield Site(server.base_url, runtime)
    server.stop()
    engine.dispose()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def new_page(chromium):
    """Another browser (its own cookies), e.g. a second device."""
    contexts = []

    def make():
        context = chromium.new_context(locale="en-GB")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
