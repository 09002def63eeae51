"""Registering a department for back-channel logout and for CIBA (poll or ping): the
metadata names of OpenID Connect Back-Channel Logout 1.0 §2.2 and CIBA §4, each URL under
the outbound policy; the admin API, `egate clients add|show`, and discovery."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from egate.app import create_app
from egate.cli import main
from identity.clients.models import Client
from identity.clients.service import CIBA_GRANT_TYPE, ClientRegistrationError, Registration, register
from kit.outbound import OutboundPolicy

LOGOUT_URI = "https://td.example/backchannel-logout"
PING = "https://td.example/ciba-ping"


def registration(**overrides):
    fields = dict(name="Transport Department", department="td", redirect_uris=["https://td.example/cb"])
    fields.update(overrides)
    return Registration(**fields)


def test_a_department_registers_for_back_channel_logout(db, runtime):
    client, _ = register(
        db,
        runtime.master_key,
        registration(backchannel_logout_uri=LOGOUT_URI, backchannel_logout_session_required=True),
        runtime.clock(),
    )
    assert client.backchannel_logout_uri == LOGOUT_URI and client.backchannel_logout_session_required


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"backchannel_logout_uri": "http://td.example/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://10.0.0.1/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://169.254.169.254/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://td.example/logout#x"}, "backchannel_logout_uri"),
        ({"backchannel_logout_uri": "http://127.0.0.1:9/logout"}, "backchannel_logout_uri"),
        ({"backchannel_logout_session_required": True}, "backchannel_logout_session_required"),
        ({"backchannel_token_delivery_mode": "poll"}, "backchannel_token_delivery_mode"),
        (
            {"grant_types": (CIBA_GRANT_TYPE,), "backchannel_token_delivery_mode": "push"},
            "backchannel_token_delivery_mode",
        ),
        (
            {"grant_types": (CIBA_GRANT_TYPE,), "backchannel_token_delivery_mode": "ping"},
            "backchannel_client_notification_endpoint",
        ),
        (
            {"grant_types": (CIBA_GRANT_TYPE,), "backchannel_client_notification_endpoint": PING},
            "backchannel_client_notification_endpoint",
        ),
        (
            {
                "grant_types": (CIBA_GRANT_TYPE,),
                "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": "https://192.168.1.1/ping",
            },
            "backchannel_client_notification_endpoint",
        ),
        ({"grant_types": (CIBA_GRANT_TYPE,), "token_endpoint_auth_method": "none"}, "grant_types"),
    ],
)
def test_invalid_callback_metadata_names_the_field_and_stores_nothing(db, runtime, overrides, field):
    before = db.scalars(select(Client)).all()
    with pytest.raises(ClientRegistrationError) as info:
        register(db, runtime.master_key, registration(**overrides), runtime.clock())
    assert info.value.field == field
    assert db.scalars(select(Client)).all() == before


def test_a_development_deployment_may_post_to_loopback_http_only(db, runtime):
    development = OutboundPolicy(development=True)
    loopback = registration(backchannel_logout_uri="http://127.0.0.1:9/logout")
    client, _ = register(db, runtime.master_key, loopback, runtime.clock(), outbound=development)
    assert client.backchannel_logout_uri == "http://127.0.0.1:9/logout"
    for elsewhere in ("http://10.0.0.1/logout", "http://td.example/logout", "https://127.0.0.1/logout"):
        with pytest.raises(ClientRegistrationError):
            register(
                db,
                runtime.master_key,
                registration(backchannel_logout_uri=elsewhere),
                runtime.clock(),
                outbound=development,
            )


def test_ciba_clients_poll_by_default_or_are_pinged(db, runtime):
    polling, _ = register(
        db, runtime.master_key, registration(grant_types=(CIBA_GRANT_TYPE,)), runtime.clock()
    )
    pinged, _ = register(
        db,
        runtime.master_key,
        registration(
            grant_types=(CIBA_GRANT_TYPE,),
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint=PING,
        ),
        runtime.clock(),
    )
    assert polling.backchannel_token_delivery_mode == "poll"
    assert (pinged.backchannel_token_delivery_mode, pinged.backchannel_client_notification_endpoint) == (
        "ping",
        PING,
    )


def test_the_admin_api_takes_the_metadata_names_and_discovery_tells(runtime):
    runtime.settings.admin_token = "admin-secret-0123456789abcdef-0123"
    admin = {"Authorization": f"Bearer {runtime.settings.admin_token}"}
    body = {
        "client_name": "Transport Department",
        "department": "TD",
        "redirect_uris": ["https://td.example/cb"],
        "grant_types": ["authorization_code", CIBA_GRANT_TYPE],
        "backchannel_logout_uri": LOGOUT_URI,
        "backchannel_logout_session_required": True,
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": PING,
    }
    with TestClient(create_app(runtime)) as http:
        created = http.post("/admin/clients", json=body, headers=admin)
        refused = http.post(
            "/admin/clients", json={**body, "backchannel_logout_uri": "https://10.1.2.3/x"}, headers=admin
        )
        metadata = http.get("/.well-known/openid-configuration").json()
    assert created.status_code == 201, created.text
    answer = created.json()
    assert {key: answer[key] for key in body if key.startswith("backchannel")} == {
        key: value for key, value in body.items() if key.startswith("backchannel")
    }
    assert CIBA_GRANT_TYPE in answer["grant_types"]
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_client_metadata"
    assert refused.json()["error_description"].startswith("backchannel_logout_uri:")
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert set(metadata["backchannel_token_delivery_modes_supported"]) == {"poll", "ping"}


def test_the_cli_registers_and_shows_the_callbacks(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    common = ["clients", "add", "--name", "Transport Department", "--department", "TD"]
    common += ["--redirect-uri", "https://td.example/cb", "--client-id", "td-portal"]
    added = [
        *common,
        "--backchannel-logout-uri",
        LOGOUT_URI,
        "--backchannel-logout-session-required",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        CIBA_GRANT_TYPE,
        "--backchannel-token-delivery-mode",
        "ping",
        "--backchannel-client-notification-endpoint",
        PING,
    ]
    assert main(added) == 0
    capsys.readouterr()
    assert main(["clients", "show", "td-portal"]) == 0
    registration = capsys.readouterr().out.split("enforced:", 1)[0]
    shown = dict(line.split(":", 1) for line in registration.splitlines())
    shown = {key: value.strip() for key, value in shown.items()}
    assert shown["backchannel_logout_uri"] == LOGOUT_URI
    assert shown["backchannel_logout_session_required"] == "True"
    assert shown["backchannel_token_delivery_mode"] == "ping"
    assert shown["grant_types"] == f"authorization_code {CIBA_GRANT_TYPE}"
    assert "secret" not in "".join(shown)
    assert main(["clients", "show", "nobody"]) == 1
    bad = [*common[:-1], "td-2", "--backchannel-logout-uri", "https://10.0.0.1/logout"]
    assert main(bad) == 2
    assert "backchannel_logout_uri" in capsys.readouterr().err
