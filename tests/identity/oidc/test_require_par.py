"""EGATE_REQUIRE_PAR: the whole server takes pushed authorization requests only (RFC 9126
§6), says so in its discovery document, and refuses a plain request with a clear page."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.testclient import TestClient

from egate.app import create_app
from identity.clients.service import Registration, register


def test_the_server_wide_setting_refuses_plain_requests(db, runtime):
    runtime.settings.require_par = True
    runtime.settings.issuer = "https://testserver"  # Authlib takes OAuth over https only
    client, _ = register(
        db,
        runtime.master_key,
        Registration(name="Lands Department", department="LD", redirect_uris=["https://ld.example/cb"]),
        runtime.clock(),
    )
    db.commit()
    query = {
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": "https://ld.example/cb",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    with TestClient(create_app(runtime)) as http:
        metadata = http.get("/.well-known/openid-configuration").json()
        refused = http.get(f"/authorize?{urlencode(query)}", follow_redirects=False)
    assert metadata["require_pushed_authorization_requests"] is True
    assert refused.status_code == 400
    assert "must push its authorization requests to the PAR endpoint" in refused.text
