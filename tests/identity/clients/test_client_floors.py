"""A department's floors (minimum identity level, minimum acr): registered through the
service, the admin API and the CLI, refused when unknown, shown by ``clients show``."""

from __future__ import annotations

from typing import get_args

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from egate.app import create_app
from egate.cli import main
from identity.assurance import ACR_MFA, ACR_ORDER, IAL_IN_PERSON, IAL_ORDER
from identity.clients.models import Client
from identity.clients.schemas import AcrValue, IdentityLevel
from identity.clients.service import ClientRegistrationError, Registration, register

ADMIN = {"Authorization": "Bearer admin-secret-for-floors"}


def registration(**overrides) -> Registration:
    fields = dict(name="Immigration e-Services", department="IMMD", redirect_uris=["https://immd.example/cb"])
    fields.update(overrides)
    return Registration(**fields)


def test_the_floors_are_stored_with_the_client(db, runtime):
    client, _ = register(
        db,
        runtime.master_key,
        registration(min_identity_level=IAL_IN_PERSON, min_acr=ACR_MFA),
        runtime.clock(),
    )
    stored = db.get(Client, client.client_id)
    assert (stored.min_identity_level, stored.min_acr) == (IAL_IN_PERSON, ACR_MFA)
    plain, _ = register(db, runtime.master_key, registration(), runtime.clock())
    assert (plain.min_identity_level, plain.min_acr) == (None, None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_identity_level": "verified"}, "min_identity_level"),
        ({"min_identity_level": "IN_PERSON"}, "min_identity_level"),
        ({"min_acr": "urn:egate:acr:gold"}, "min_acr"),
        ({"min_acr": "mfa"}, "min_acr"),
    ],
)
def test_unknown_floors_are_refused_and_nothing_is_stored(db, runtime, overrides, field):
    before = db.scalars(select(Client)).all()
    with pytest.raises(ClientRegistrationError) as refused:
        register(db, runtime.master_key, registration(**overrides), runtime.clock())
    assert refused.value.field == field
    assert db.scalars(select(Client)).all() == before


def test_the_schema_names_exactly_the_provider_levels():
    assert get_args(IdentityLevel) == tuple(IAL_ORDER)
    assert get_args(AcrValue) == tuple(ACR_ORDER)


def test_the_admin_api_registers_and_lists_the_floors(runtime):
    runtime.settings.admin_token = ADMIN["Authorization"].removeprefix("Bearer ")
    body = {
        "client_name": "Immigration e-Services",
        "department": "IMMD",
        "redirect_uris": ["https://immd.example/cb"],
    }
    with TestClient(create_app(runtime)) as http:
        created = http.post(
            "/admin/clients",
            json={**body, "min_identity_level": "in_person", "min_acr": ACR_MFA},
            headers=ADMIN,
        )
        bad_level = http.post("/admin/clients", json={**body, "min_identity_level": "gold"}, headers=ADMIN)
        bad_acr = http.post("/admin/clients", json={**body, "min_acr": "urn:egate:acr:gold"}, headers=ADMIN)
        listed = http.get("/admin/clients", headers=ADMIN).json()
    assert created.status_code == 201, created.text
    assert created.json()["min_identity_level"] == "in_person" and created.json()["min_acr"] == ACR_MFA
    assert bad_level.status_code == 422 and bad_acr.status_code == 422
    [mine] = [c for c in listed if c["client_id"] == created.json()["client_id"]]
    assert (mine["min_identity_level"], mine["min_acr"]) == ("in_person", ACR_MFA)


def test_the_cli_sets_and_shows_the_floors(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    common = ["clients", "add", "--name", "Immigration e-Services", "--department", "IMMD"]
    common += ["--redirect-uri", "https://immd.example/cb"]
    floors = ["--min-identity-level", "remote", "--min-acr", ACR_MFA]
    assert main([*common, "--client-id", "immd-floors", *floors]) == 0
    assert main([*common, "--client-id", "immd-plain"]) == 0
    capsys.readouterr()
    assert main(["clients", "show", "immd-floors"]) == 0
    printed = capsys.readouterr().out
    shown = {
        key: value.strip()
        for key, value in (line.split(":", 1) for line in printed.split("enforced:", 1)[0].splitlines())
    }
    assert (shown["min_identity_level"], shown["min_acr"]) == ("remote", ACR_MFA)
    assert "client_secret" not in shown  # the auth method is shown, never a secret or its digest
    assert main(["clients", "show", "immd-plain"]) == 0
    printed = capsys.readouterr().out
    shown = {
        key: value.strip()
        for key, value in (line.split(":", 1) for line in printed.split("enforced:", 1)[0].splitlines())
    }
    assert (shown["min_identity_level"], shown["min_acr"]) == ("", "")
    assert main(["clients", "show", "nobody"]) == 1
    with pytest.raises(SystemExit):  # argparse refuses a level it does not know
        main([*common, "--client-id", "immd-bad", "--min-identity-level", "gold"])
