"""Small factories for identity account tests (shared by the sessions and browser tests)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from identity.accounts import service as accounts
from identity.accounts.models import Account, OutboxMessage
from identity.accounts.schemas import Enrolment
from identity.messaging.outbox import open_message
from identity.residents.hkid import check_digit, format_hkid
from identity.security.keyring import keyring_for
from identity.web.pages import install_pages
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


def create_resident(db: Session, runtime: Runtime, **overrides: str) -> tuple[Account, dict[str, str]]:
    form = enrolment_form(**overrides)
    account = accounts.enrol_resident(db, runtime, Enrolment.parse(form, date(2025, 1, 1)), None)
    db.flush()
    return account, form


def outbox_messages(db: Session, runtime: Runtime):  # noqa: ANN201
    keyring = keyring_for(runtime)
    db.expire_all()
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [open_message(keyring, row) for row in rows]


def latest_code(db: Session, runtime: Runtime, recipient: str) -> str:
    for message in reversed(outbox_messages(db, runtime)):
        if message.recipient == recipient:
            return re.search(r"\b(\d{6})\b", message.body).group(1)
    raise AssertionError("no message for that recipient")


def pages_app(runtime: Runtime) -> FastAPI:
    """The identity pages alone (sign-in, enrolment, account), without the OpenID routes."""
    app = FastAPI()
    app.state.runtime = runtime
    install_pages(app)
    return app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Browser:
    """A TestClient that remembers the CSRF token of the last page, like a browser's form."""

    def __init__(self, runtime: Runtime) -> None:
        self.client = TestClient(pages_app(runtime), base_url="http://testserver")
        self.token: str | None = None

    def get(self, url: str, **kwargs):  # noqa: ANN003, ANN201
        response = self.client.get(url, **kwargs)
        if 'name="csrf_token"' in response.text:
            self.token = csrf_of(response.text)
        return response

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs):  # noqa: ANN003, ANN201
        if self.token is None:
            self.get("/signin")
        response = self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)
        if 'name="csrf_token"' in response.text:
            self.token = csrf_of(response.text)
        return response

    def sign_in(self, identifier: str, password: str = PASSWORD, next_path: str = "/account"):  # noqa: ANN201
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
