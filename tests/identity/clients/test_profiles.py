"""Registering clients under the fapi2 profile, with the FAPI flags one by one, and with
resource indicators: in the service, on the command line and through the admin API."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from egate.app import create_app
from egate.cli import main
from identity.clients.profiles import code_ttl_seconds
from identity.clients.service import ClientRegistrationError, Registration, register
from tests.support.dpop import KeyHolder

JWKS = {"keys": [KeyHolder(kid="k1").public_jwk]}


def registration(**overrides):
    fields = dict(name="Immigration Department", department="imm", redirect_uris=["https://imm.example/cb"])
    fields.update(overrides)
    return Registration(**fields)


def test_the_fapi2_profile_switches_on_par_dpop_and_es256(db, runtime):
    client, secret = register(
        db,
        runtime.master_key,
        registration(profile="fapi2", token_endpoint_auth_method="private_key_jwt", jwks=JWKS),
        runtime.clock(),
    )
    assert secret is None
    assert client.profile == "fapi2"
    assert client.require_pushed_authorization_requests and client.dpop_bound_access_tokens
    assert client.id_token_signed_response_alg == "ES256"
    assert code_ttl_seconds(client, 600) == 60 and code_ttl_seconds(client, 30) == 30


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"profile": "fapi2"}, "token_endpoint_auth_method"),
        (
            {"profile": "fapi2", "token_endpoint_auth_method": "client_secret_post"},
            "token_endpoint_auth_method",
        ),
        ({"profile": "fapi2", "token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
        ({"profile": "fapi1"}, "profile"),
        ({"resources": ("https://api.example/x#frag",)}, "resources"),
        ({"resources": ("http://api.example/x",)}, "resources"),
        ({"resources": ("https://api.example/x?q=1",)}, "resources"),
    ],
)
def test_registrations_that_break_the_profile_or_the_resource_rules_are_refused(
    db, runtime, overrides, field
):
    with pytest.raises(ClientRegistrationError) as refused:
        register(db, runtime.master_key, registration(**overrides), runtime.clock())
    assert refused.value.field == field


def test_a_fapi2_client_cannot_use_ciba(db, runtime):
    fapi2 = registration(
        profile="fapi2",
        token_endpoint_auth_method="private_key_jwt",
        jwks=JWKS,
        grant_types=("authorization_code", "urn:openid:params:grant-type:ciba"),
    )
    with pytest.raises(ClientRegistrationError, match="grant_types"):
        register(db, runtime.master_key, fapi2, runtime.clock())


def test_the_cli_registers_a_fapi2_client_and_shows_what_is_enforced(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    common = ["clients", "add", "--name", "Singpass-style app", "--department", "IMM"]
    common += ["--redirect-uri", "https://imm.example/cb"]
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(JWKS))
    assert main([*common, "--profile", "fapi2", "--client-id", "imm-no-keys"]) == 2
    assert "jwks" in capsys.readouterr().err
    assert main([*common, "--profile", "fapi2", "--jwks-file", str(keys), "--client-id", "imm-fapi"]) == 0
    out = capsys.readouterr().out
    assert "imm-fapi" in out and "client_secret" not in out
    flags = ["--require-par", "--dpop-bound-access-tokens", "--resource", "https://api.imm.example/v1"]
    assert main([*common, *flags, "--client-id", "imm-flags"]) == 0
    assert "client_secret:" in capsys.readouterr().out  # client_secret_basic, as without flags

    assert main(["clients", "show", "imm-fapi"]) == 0
    shown = capsys.readouterr().out
    assert "profile fapi2" in shown and "pushed authorization requests only" in shown
    assert "DPoP-bound access tokens only" in shown and "private_key_jwt" in shown
    assert "60 s at most" in shown and "ES256" in shown
    assert main(["clients", "show", "imm-flags"]) == 0
    shown = capsys.readouterr().out
    enforced = shown.split("enforced:", 1)[1]
    assert "profile" not in enforced and "pushed authorization requests only" in enforced
    assert "https://api.imm.example/v1" in shown
    assert main(["clients", "show", "nobody"]) == 1


def test_the_admin_api_takes_the_registration_metadata_names(runtime):
    runtime.settings.admin_token = "admin-token-for-fapi-registration-tests-0123"
    headers = {"Authorization": f"Bearer {runtime.settings.admin_token}"}
    with TestClient(create_app(runtime)) as http:
        created = http.post(
            "/admin/clients",
            json={
                "client_name": "Immigration",
                "department": "IMM",
                "redirect_uris": ["https://imm.example/cb"],
                "profile": "fapi2",
                "jwks": JWKS,
                "resources": ["https://api.imm.example/v1"],
            },
            headers=headers,
        )
        without_keys = http.post(
            "/admin/clients",
            json={
                "client_name": "X",
                "department": "IMM",
                "redirect_uris": ["https://x/cb"],
                "profile": "fapi2",
            },
            headers=headers,
        )
        signed_only = http.post(
            "/admin/clients",
            json={
                "client_name": "Y",
                "department": "IMM",
                "redirect_uris": ["https://y.example/cb"],
                "require_signed_request_object": True,
            },
            headers=headers,
        )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token_endpoint_auth_method"] == "private_key_jwt" and body["client_secret"] is None
    assert body["require_pushed_authorization_requests"] and body["dpop_bound_access_tokens"]
    assert body["resources"] == ["https://api.imm.example/v1"] and body["profile"] == "fapi2"
    assert without_keys.status_code == 400 and without_keys.json()["error"] == "invalid_client_metadata"
    assert signed_only.status_code == 201 and signed_only.json()["require_signed_request_object"]
    assert signed_only.json()["token_endpoint_auth_method"] == "client_secret_basic"
