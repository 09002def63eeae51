"""The forms hub on its own (mounted at /forms) against a fake provider over mocked HTTP,
in the rolled-back transaction of each test; on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forms_hub.app import create_app
from forms_hub.attachments.storage import MemoryStorage
from forms_hub.demo import seed_demo_forms
from forms_hub.oidc_client.service import set_client_credentials
from forms_hub.submissions.receipts import ReceiptSigner
from kit.db import session_scope, utcnow
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.forms_hub.fake_provider import FakeProvider
from tests.forms_hub.sample_files import JPEG, PDF, PNG
from tests.support.databases import make_settings

ADMIN_TOKEN = "forms-admin-token-0123456789abcdef"
__all__ = ["JPEG", "PDF", "PNG"]


class RecordingDisclosures:
    """Test double of the DisclosureRecorder (the real wiring is tested end to end)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, db, **entry: Any) -> str:
        assert entry["fields"] == sorted(set(entry["fields"]))
        self.entries.append(entry)
        return f"dl-{len(self.entries)}"


class MovableClock:
    """The hub's clock in a test: the real time, until the test moves it to a moment of its own."""

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def __call__(self) -> datetime:
        return self.moment or utcnow()

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def forms_runtime(db_engine, session_factory, tmp_path: Path, clock: MovableClock) -> Runtime:
    settings = make_settings(
        tmp_path, database_url=db_engine.url.render_as_string(hide_password=False), admin_token=ADMIN_TOKEN
    )
    return Runtime(settings, db_engine, session_factory, master_key=load_master_key(settings), clock=clock)


@pytest.fixture
def provider(forms_runtime: Runtime) -> FakeProvider:
    return FakeProvider(forms_runtime.settings.issuer)


@pytest.fixture
def disclosures() -> RecordingDisclosures:
    return RecordingDisclosures()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def hub_app(forms_runtime, provider, disclosures, storage) -> FastAPI:
    """The forms hub's own app, as ``egate.app`` builds it."""
    app = create_app(
        forms_runtime, disclosures, http=httpx.Client(transport=provider.transport()), storage=storage
    )
    for db in session_scope(forms_runtime.sessions):
        set_client_credentials(
            db, forms_runtime.master_key, provider.client_id, provider.client_secret, forms_runtime.clock()
        )
        seed_demo_forms(db, forms_runtime.clock())
    return app


@pytest.fixture
def forms_app(hub_app: FastAPI) -> FastAPI:
    root = FastAPI()
    root.mount("/forms", hub_app)
    return root


@pytest.fixture
def receipts(hub_app: FastAPI) -> ReceiptSigner:
    """The hub's receipt signer (its keys come from the master key)."""
    signer: ReceiptSigner = hub_app.state.forms_receipts
    return signer


@pytest.fixture
def client(forms_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(forms_app, base_url="http://testserver") as test_client:
        yield test_client


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in(client: TestClient, provider: FakeProvider, sub: str, **id_token_claims: Any) -> None:
    """The RP flow against the fake provider: login -> authorize -> callback -> session."""
    start = client.get("/forms/auth/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    callback = provider.authorize(start.headers["location"], sub, id_token_claims=id_token_claims)
    done = client.get(local(callback), follow_redirects=False)
    assert done.status_code == 303, done.text
    assert "forms_session" in client.cookies


@pytest.fixture
def resident(client: TestClient, provider: FakeProvider) -> str:
    sub = f"acct-{secrets.token_hex(6)}"
    provider.profiles[sub] = {
        "name": "CHAN Tai Man",
        "name#zh-HK": "陳大文",
        "birthdate": "1950-07-31",
        "hkid_number": "A123456(3)",
        "email": "chan.taiman@example.hk",
        "phone_number": "+85291234567",
        "address": {"formatted": "Flat 12A, 1 Harbour Road, Wan Chai, Hong Kong", "country": "HK"},
    }
    sign_in(client, provider, sub)
    return sub


@pytest.fixture
def proofed_resident(resident: str, provider: FakeProvider) -> str:
    """The signed-in resident, proofed in person: the provider releases what a registration
    officer checked as verified_claims."""
    profile = provider.profiles[resident]
    checked = ("name", "name#zh-HK", "birthdate", "hkid_number")
    provider.proofed[resident] = {"level": "in_person", "claims": {c: profile[c] for c in checked}}
    return resident


def toilet_answers(**overrides: Any) -> dict[str, Any]:
    answers = {
        "toilet_location": "Kowloon Park public toilet near Haiphong Road",
        "district": "yau-tsim-mong",
        "fault_type": "blocked",
        "description": "The toilet in the second cubicle is blocked and overflowing.",
    }
    answers.update(overrides)
    return answers


def restaurant_answers(**overrides: Any) -> dict[str, Any]:
    answers = {
        "applicant_name": "CHAN Tai Man",
        "hkid": "A123456(3)",
        "phone": "+85291234567",
        "email": "chan.taiman@example.hk",
        "business_name": "Harbour Noodles",
        "premises_address": "G/F, 8 Lockhart Road, Wan Chai",
        "district": "wan-chai",
        "floor_area": 85.5,
        "seats": 40,
        "cuisine": ["chinese"],
        "declaration": True,
    }
    answers.update(overrides)
    return answers


def department(client: TestClient, provider: FakeProvider, department: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {provider.department_token(department)}"}
