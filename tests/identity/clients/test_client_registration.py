import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from egate.app import create_app
from egate.cli import main
from identity.clients.models import Client
from identity.clients.service import ClientRegistrationError, Registration, check_secret, register
from identity.keys.models import SigningKey
from identity.keys.service import ensure_keys, published_jwks, rotate
from kit.outbound import OutboundPolicy


def registration(**overrides):
    fields = dict(name="Transport Department", department="td", redirect_uris=["https://td.example/cb"])
    fields.update(overrides)
    return Registration(**fields)


def test_secret_is_returned_once_and_stored_only_as_a_keyed_digest(db, runtime):
    client, secret = register(db, runtime.master_key, registration(), runtime.clock())
    stored = db.scalars(select(Client).where(Client.client_id == client.client_id)).one()
    assert secret and secret not in stored.client_secret_hash
    assert check_secret(runtime.master_key, stored.client_secret_hash, secret)
    assert not check_secret(runtime.master_key, stored.client_secret_hash, secret + "x")
    assert stored.department == "TD" and stored.subject_type == "pairwise"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"redirect_uris": ["http://td.example/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://td.example/cb#frag"]}, "redirect_uris"),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
        ({"allowed_scopes": ("openid", "admin")}, "scope"),
        ({"grant_types": ("password",)}, "grant_types"),
        ({"token_endpoint_auth_method": "none", "grant_types": ("client_credentials",)}, "grant_types"),
        ({"subject_type": "global"}, "subject_type"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://td.example/jwks"}, "jwks_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "file:///etc/passwd"}, "jwks_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://10.0.0.1/jwks"}, "jwks_uri"),
        ({"jwks_uri": "https://169.254.169.254/latest/meta-data/"}, "jwks_uri"),  # any client's URL
        ({"audit_system": True, "allowed_scopes": ("openid", "ledger:audit")}, "audit_system"),
        (
            {
                "audit_system": True,
                "grant_types": ("client_credentials",),
                "allowed_scopes": ("ledger:department",),
            },
            "audit_system",
        ),
    ],
)
def test_invalid_registrations_name_the_field_and_store_nothing(db, runtime, overrides, field):
    before = db.scalars(select(Client)).all()
    with pytest.raises(ClientRegistrationError) as info:
        register(db, runtime.master_key, registration(**overrides), runtime.clock())
    assert info.value.field == field
    assert db.scalars(select(Client)).all() == before


def test_a_test_deployment_may_register_a_private_jwks_uri(db, runtime):
    private = registration(token_endpoint_auth_method="private_key_jwt", jwks_uri="http://127.0.0.1:9/jwks")
    with pytest.raises(ClientRegistrationError):
        register(db, runtime.master_key, private, runtime.clock())
    client, _ = register(
        db, runtime.master_key, private, runtime.clock(), outbound=OutboundPolicy(allow_private=True)
    )
    assert client.jwks_uri == "http://127.0.0.1:9/jwks"


def test_native_app_may_use_private_scheme_and_loopback(db, runtime):
    client, secret = register(
        db,
        runtime.master_key,
        registration(
            token_endpoint_auth_method="none",
            redirect_uris=["hk.gov.egate.app:/callback", "http://127.0.0.1:7777/cb"],
        ),
        runtime.clock(),
    )
    assert secret is None and client.client_type == "public"


def test_admin_api_requires_the_admin_credential(runtime):
    runtime.settings.admin_token = "admin-secret"
    with TestClient(create_app(runtime)) as http:
        body = {
            "client_name": "FEHD Licensing",
            "department": "FEHD",
            "redirect_uris": ["https://fehd.example/cb"],
        }
        refused = http.post("/admin/clients", json=body)
        wrong = http.post("/admin/clients", json=body, headers={"Authorization": "Bearer nope"})
        created = http.post("/admin/clients", json=body, headers={"Authorization": "Bearer admin-secret"})
        invalid = http.post(
            "/admin/clients",
            json={**body, "redirect_uris": ["ftp://x"]},
            headers={"Authorization": "Bearer admin-secret"},
        )
    assert refused.status_code == 401 and wrong.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert created.status_code == 201 and created.json()["client_secret"]
    assert invalid.status_code == 400 and invalid.json()["error"] == "invalid_redirect_uri"


def test_signing_keys_are_encrypted_at_rest_and_rotation_keeps_old_public_keys(db, runtime):
    now = runtime.clock()
    ensure_keys(db, runtime.master_key, now)
    rows = db.scalars(select(SigningKey)).all()
    assert {r.alg for r in rows} == {"RS256", "ES256"}
    assert all("PRIVATE KEY" not in r.private_key_encrypted for r in rows)
    old_kids = {r.kid for r in rows}
    new_kids = set(rotate(db, runtime.master_key, now, 600))
    published = {k["kid"] for k in published_jwks(db, now)["keys"]}
    assert old_kids | new_kids <= published
    from datetime import timedelta

    later = {k["kid"] for k in published_jwks(db, now + timedelta(seconds=601))["keys"]}
    assert later == new_kids


def test_the_cli_registers_an_audit_system(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    common = ["clients", "add", "--name", "Audit Commission", "--department", "AUD"]
    common += ["--grant-type", "client_credentials", "--scope", "ledger:audit"]
    assert main([*common, "--client-id", "aud-system", "--audit-system"]) == 0
    assert main([*common, "--client-id", "aud-plain"]) == 0
    capsys.readouterr()
    assert main(["clients", "list"]) == 0
    listed = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    assert listed["aud-system"].endswith("\taudit-system")
    assert not listed["aud-plain"].endswith("audit-system")
    assert (
        main(
            [
                "clients",
                "add",
                "--name",
                "X",
                "--department",
                "AUD",
                "--grant-type",
                "client_credentials",
                "--audit-system",
            ]
        )
        == 2
    )
    assert "audit_system" in capsys.readouterr().err
