"""A whole journey at the log level the gateway ships with leaves no secret and no personal
datum in the log.

`egate serve` runs as a child process with its shipped logging (EGATE_LOG_LEVEL unset, so
info, as JSON); the journey goes over HTTP only: a resident signs in through the real pages
and consents, a department exchanges the code, calls userinfo and refreshes; the resident
signs in to the forms hub, submits a form with an attachment; a department back-end
decides it. Then every value the journey used that is secret or personal is looked for in
everything the server wrote.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from devtools.http_browser import sign_in
from tests.support.databases import new_database_url
from tests.support.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
EGATE = [sys.executable, "-m", "egate.cli"]
DEMO_CLIENT_ID = "demo-department"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
FORM = "public-toilet-fault-report"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class Gateway:
    def __init__(self, tmp: Path, database_url: str | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "server.log"
        self.env = {
            **os.environ,
            "EGATE_DATA_DIR": str(tmp / "data"),
            "EGATE_ISSUER": self.base,
            "EGATE_LOG_JSON": "true",
            "PYTHONPATH": str(ROOT),
            # cheap argon2 for speed; the log level is left at its shipped default
            "EGATE_ARGON2_TIME_COST": "1",
            "EGATE_ARGON2_MEMORY_KIB": "1024",
        }
        self.env.pop("EGATE_LOG_LEVEL", None)
        if database_url:
            self.env["EGATE_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [*EGATE, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    def start(self) -> None:
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [*EGATE, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the gateway did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    database_url = (
        new_database_url(request.param, request, tmp_path) if request.param == "postgresql" else None
    )
    gateway = Gateway(tmp_path, database_url)
    yield gateway
    gateway.stop()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_a_whole_journey_leaves_no_secret_or_personal_datum_in_the_log(gateway: Gateway) -> None:
    demo = gateway.cli("demo")
    identifier = re.search(r"identity card number:\s+(\S+)", demo).group(1)  # type: ignore[union-attr]
    password = re.search(r"password:\s+(\S+)", demo).group(1)  # type: ignore[union-attr]
    client_secret = re.search(r"client secret:\s+(\S+)", demo).group(1)  # type: ignore[union-attr]
    added = gateway.cli(
        "clients", "add", "--name", "Food and Environmental Hygiene back-end", "--department", "FEHD",
        "--grant-type", "client_credentials", "--scope", "forms:department",
    )  # fmt: skip
    backend_id = re.search(r"client_id:\s+(\S+)", added).group(1)  # type: ignore[union-attr]
    backend_secret = re.search(r"client_secret:\s+(\S+)", added).group(1)  # type: ignore[union-attr]
    gateway.start()
    used: dict[str, str] = {"password": password, "identity card number": identifier}
    used |= {"client secret": client_secret, "back-end secret": backend_secret}

    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        # sign-in, consent, code
        verifier, challenge = pkce()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        query = urlencode(
            {
                "client_id": DEMO_CLIENT_ID,
                "response_type": "code",
                "scope": "openid profile email phone address offline_access",
                "redirect_uri": DEMO_REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "nonce": nonce,
            }
        )
        callback = sign_in(
            browser, f"{gateway.base}/authorize?{query}", identifier, password, stop_at=DEMO_REDIRECT_URI
        )
        assert callback.is_redirect, callback.text[:500]
        code = parse_qs(urlsplit(callback.headers["location"]).query)["code"][0]
        used |= {"code": code, "pkce verifier": verifier, "state": state, "nonce": nonce}
        used |= {f"cookie {name}": value for name, value in browser.cookies.items()}

        # token, userinfo, refresh
        tokens = httpx.post(
            f"{gateway.base}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_REDIRECT_URI,
                  "code_verifier": verifier},
            auth=(DEMO_CLIENT_ID, client_secret),
        ).json()  # fmt: skip
        used |= {"access token": tokens["access_token"], "id token": tokens["id_token"]}
        userinfo = httpx.get(
            f"{gateway.base}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 200, userinfo.text
        personal = {
            k: v for k, v in userinfo.json().items() if isinstance(v, str) and k != "sub" and len(v) > 3
        }
        used |= {f"userinfo {name}": value for name, value in personal.items()}
        used["pairwise sub"] = userinfo.json()["sub"]
        if "refresh_token" in tokens:
            used["refresh token"] = tokens["refresh_token"]
            refreshed = httpx.post(
                f"{gateway.base}/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=(DEMO_CLIENT_ID, client_secret),
            )
            assert refreshed.status_code == 200, refreshed.text
            used["refreshed access token"] = refreshed.json()["access_token"]
            used["second refresh token"] = refreshed.json()["refresh_token"]

        # the forms hub: sign in through the provider, submit with an attachment
        sign_in(browser, f"{gateway.base}/forms/auth/login?next=/forms/my", identifier, password)
        hub_cookie = browser.cookies.get("forms_session")
        assert hub_cookie
        used["forms hub session"] = hub_cookie
        answers = {
            "toilet_location": "Kowloon Park public toilet near Haiphong Road",
            "district": "yau-tsim-mong",
            "fault_type": "blocked",
            "description": "Cubicle two overflowing since the morning of the 3rd",
        }
        used |= {"answer location": answers["toilet_location"], "answer description": answers["description"]}
        with httpx.Client(base_url=gateway.base, timeout=20, headers={"Origin": gateway.base}) as hub:
            hub.cookies.set("forms_session", hub_cookie, path="/forms")
            draft = hub.post("/forms/api/submissions", json={"form": FORM, "answers": answers})
            assert draft.status_code == 201, draft.text
            draft_id = draft.json()["id"]
            upload = hub.post(
                f"/forms/api/submissions/{draft_id}/attachments",
                data={"name": "photos"},
                files={"file": ("photo-of-the-fault.png", PNG, "image/png")},
            )
            assert upload.status_code == 201, upload.text
            submitted = hub.post(
                f"/forms/api/submissions/{draft_id}/submit", headers={"Idempotency-Key": secrets.token_hex(8)}
            )
            assert submitted.status_code == 200, submitted.text
            reference = submitted.json()["reference"]

    # a department back-end decides
    department = httpx.post(
        f"{gateway.base}/token",
        data={"grant_type": "client_credentials", "scope": "forms:department"},
        auth=(backend_id, backend_secret),
    ).json()  # fmt: skip
    used["department token"] = department["access_token"]
    bearer = {"Authorization": f"Bearer {department['access_token']}"}
    for action in ("start_review", "approve"):
        decided = httpx.post(
            f"{gateway.base}/forms/api/department/submissions/{reference}/transitions",
            json={"action": action},
            headers=bearer,
        )
        assert decided.status_code == 200, decided.text

    gateway.stop()
    log = gateway.log.read_text(encoding="utf-8", errors="replace")
    assert '"logger": "egate.access"' in log, "the server wrote no access log: the scan would prove nothing"
    leaked = [name for name, value in used.items() if value and value in log]
    assert leaked == [], f"found in the log: {leaked}"
