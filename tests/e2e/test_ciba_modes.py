"""CIBA made real: a department registers for the CIBA grant over the admin API (poll by
default, or ping with its notification endpoint), asks for the resident's approval, and in
ping mode is notified at its endpoint (with its own bearer token and the auth_req_id) as soon
as the resident answers in the app, then fetches the tokens; on a live gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.e2e.conftest import ADMIN_TOKEN, REDIRECT_URI
from tests.e2e.oidc_client import Department, follow_to_callback
from tests.e2e.test_app_signin import resident_with_phone  # noqa: F401 - the fixture

CIBA = "urn:openid:params:grant-type:ciba"


class PingEndpoint:
    """The department's client notification endpoint (CIBA §10.2)."""

    def __init__(self) -> None:
        self.pings: list[tuple[str, dict]] = []
        self.arrived = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.pings.append((self.headers.get("Authorization", ""), json.loads(body)))
                endpoint.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ciba-ping"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def ping_endpoint() -> Iterator[PingEndpoint]:
    endpoint = PingEndpoint()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def registered(gateway, **metadata) -> Department:
    body = {
        "client_name": "Labour Department",
        "department": "LD",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", CIBA],
        **metadata,
    }
    answer = requests.post(
        f"{gateway.base_url}/admin/clients",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return Department(gateway.base_url, answer.json()["client_id"], answer.json()["client_secret"])


def known_sub(gateway, dept: Department, account_id: str) -> str:
    """The department knows the resident from an earlier sign-in: its pairwise sub."""
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth)
    tokens = dept.exchange(oauth, follow_to_callback(gateway.browser(account_id), url))
    return dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["sub"]


def ask(dept: Department, sub: str, **extra: str) -> requests.Response:
    return requests.post(
        dept.metadata["backchannel_authentication_endpoint"],
        auth=(dept.client_id, dept.client_secret),
        data={"scope": "openid profile", "login_hint": sub, **extra},
        timeout=10,
    )


def token(dept: Department, auth_req_id: str) -> requests.Response:
    return requests.post(
        dept.metadata["token_endpoint"],
        auth=(dept.client_id, dept.client_secret),
        data={"grant_type": CIBA, "auth_req_id": auth_req_id},
        timeout=10,
    )


def test_discovery_and_a_polling_department(gateway, resident_with_phone):  # noqa: F811
    account_id, phone = resident_with_phone
    dept = registered(gateway)
    assert set(dept.metadata["backchannel_token_delivery_modes_supported"]) == {"poll", "ping"}
    sub = known_sub(gateway, dept, account_id)
    started = ask(dept, sub)
    assert started.status_code == 200, started.text
    auth_req_id = started.json()["auth_req_id"]
    assert token(dept, auth_req_id).json()["error"] == "authorization_pending"
    [pending] = phone.pending()
    phone.approve(pending["request_id"], pending["code"])
    issued = token(dept, auth_req_id)
    assert issued.status_code == 200 and issued.json()["id_token"]


def test_a_pinged_department_is_notified_when_the_resident_answers(
    gateway,
    resident_with_phone,  # noqa: F811
    ping_endpoint,
):
    account_id, phone = resident_with_phone
    dept = registered(
        gateway,
        backchannel_token_delivery_mode="ping",
        backchannel_client_notification_endpoint=ping_endpoint.url,
    )
    sub = known_sub(gateway, dept, account_id)
    without = ask(dept, sub)
    assert without.status_code == 400 and without.json()["error"] == "invalid_request"
    started = ask(dept, sub, client_notification_token="dept-own-bearer-8f3a")
    assert started.status_code == 200, started.text
    auth_req_id = started.json()["auth_req_id"]
    assert ping_endpoint.pings == []

    [pending] = phone.pending()
    phone.approve(pending["request_id"], pending["code"])
    assert ping_endpoint.arrived.wait(5)
    assert ping_endpoint.pings == [("Bearer dept-own-bearer-8f3a", {"auth_req_id": auth_req_id})]
    issued = token(dept, auth_req_id)
    assert issued.status_code == 200 and issued.json()["access_token"]

    ping_endpoint.arrived.clear()
    denied = ask(dept, sub, client_notification_token="second-token")
    [pending] = phone.pending()
    phone.deny(pending["request_id"])
    assert ping_endpoint.arrived.wait(5)
    assert ping_endpoint.pings[-1] == ("Bearer second-token", {"auth_req_id": denied.json()["auth_req_id"]})
    assert token(dept, denied.json()["auth_req_id"]).json()["error"] == "access_denied"
