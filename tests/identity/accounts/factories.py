"""Small factories for identity account tests (shared by the sessions and browser tests)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from consent.port import LedgerConsentPort
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.schemas import CounterEnrolment, Enrolment
from identity.app import create_app
from identity.messaging.models import OutboxMessage
from identity.messaging.outbox import open_message
from identity.residents.hkid import check_digit, format_hkid
from identity.security.hashing import PooledHasher, hasher_for
from identity.security.keyring import Keyring, build_keyring
from identity.sessions.service import SessionPolicy
from kit.runtime import Runtime

PASSWORD = "correct horse battery staple"


def random_hkid() -> str:
    prefix = secrets.choice(["", "X"]) + secrets.choice("ABCDEGHKMPRZ") + f"{secrets.randbelow(10**6):06d}"
    return prefix + check_digit(prefix)


def random_email() -> str:
    return f"resident.{secrets.token_hex(4)}@example.hk"


def enrolment_form(**overrides: str) -> dict[str, str]:
    form = {
        "hkid": format_hkid(random_hkid()),
        "name": "CHAN Tai Man",
        "name_zh": "陳大文",
        "birthdate": "1990-07-31",
        "gender": "male",
        "address": "Flat 12A, 1 Harbour Road, Wan Chai",
        "phone": "9123 4567",
        "email": random_email(),
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    form.update(overrides)
    return form


def keyring_of(runtime: Runtime) -> Keyring:
    return build_keyring(runtime.master_key, runtime.settings.field_key_generation)


def hasher_of(runtime: Runtime) -> PooledHasher:
    return hasher_for(runtime.settings)


def policy_of(runtime: Runtime) -> SessionPolicy:
    return SessionPolicy.from_settings(runtime.settings)


def create_resident(db: Session, runtime: Runtime, **overrides: str) -> tuple[Account, dict[str, str]]:
    form = enrolment_form(**overrides)
    account = accounts.enrol_resident(
        db,
        keyring_of(runtime),
        hasher_of(runtime),
        Enrolment.parse(form, date(2025, 1, 1)),
        None,
        now=runtime.clock(),
    )
    db.flush()
    return account, form


def outbox_messages(db: Session, runtime: Runtime):
    keyring = keyring_of(runtime)
    db.expire_all()
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [open_message(keyring, row) for row in rows]


def latest_code(db: Session, runtime: Runtime, recipient: str) -> str:
    for message in reversed(outbox_messages(db, runtime)):
        if message.recipient == recipient:
            return re.search(r"\b(\d{6})\b", message.body).group(1)
    raise AssertionError("no message for that recipient")


def pages_app(runtime: Runtime) -> FastAPI:
    """The identity provider's app, whose clock follows ``runtime.clock`` even when a test
    freezes or moves it after the app was built (the ``clock`` fixture)."""
    return create_app(replace(runtime, clock=lambda: runtime.clock()), LedgerConsentPort())


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Browser:
    """A TestClient that remembers the CSRF token of the last page, like a browser's form."""

    def __init__(self, runtime: Runtime, address: str = "testclient") -> None:
        self.client = TestClient(pages_app(runtime), base_url="http://testserver", client=(address, 50000))
        self.token: str | None = None

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        if 'name="csrf_token"' in response.text:
            self.token = csrf_of(response.text)
        return response

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs):
        if self.token is None:
            self.get("/signin")
        response = self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)
        if 'name="csrf_token"' in response.text:
            self.token = csrf_of(response.text)
        return response

    def sign_in(self, identifier: str, password: str = PASSWORD, next_path: str = "/account"):
        return self.post(
            f"/signin?next={next_path}",
            {"identifier": identifier, "password": password},
            follow_redirects=False,
        )


@dataclass
class FrozenClock:
    now: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def enrolled_at_counter(db, runtime):
    """A resident enrolled at a counter, not yet activated: the account, its formatted
    number and its activation code (at the runtime's time)."""
    keyring = keyring_of(runtime)
    hkid = random_hkid()
    enrolment = CounterEnrolment(
        hkid=hkid,
        name="HO Wing Sze",
        name_zh=None,
        birthdate=date(1980, 2, 29),
        gender="female",
        phone="+85291112222",
        email=None,
    )
    account = accounts.enrol_at_counter(db, keyring, enrolment, runtime.clock())
    code = accounts.issue_activation_code(db, keyring, account, runtime.clock())
    db.flush()
    return account, format_hkid(hkid), code


def activate(browser: Browser, hkid: str, code: str, password: str = PASSWORD):
    return browser.post(
        "/activate",
        {"hkid": hkid, "code": code, "new_password": password, "new_password_confirm": password},
        follow_redirects=False,
    )
