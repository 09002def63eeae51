"""kill -9 under load: nothing the gateway acknowledged may be lost, and the ledger verifies.

Runs `egate serve` as a child process on SQLite (default) or a PostgreSQL URL, signs a demo
resident in through the real pages (HTTP only: this script shares no code with the server),
then drives two kinds of acknowledged writes at once:
- form submissions through the forms hub's API (draft, then submit with an Idempotency-Key;
  acknowledged = 200 with a reference number);
- userinfo calls by a department (acknowledged = 200, each one a disclosure in the ledger).
Every few seconds the server is killed with SIGKILL mid-load and started again. At the end
it counts what was acknowledged against what is stored, and verifies the ledger offline
(`egate ledger export` + `egate ledger verify`).

    .venv/bin/python bench/faults.py [--kills 10] [--seconds-between 3] [--database-url URL]

Prints one line per kill and a summary; exits 1 when anything acknowledged is missing.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devtools.http_browser import sign_in

ROOT = Path(__file__).resolve().parent.parent
# The CLI of this checkout (not whatever `egate` an installed package would run).
EGATE = [sys.executable, "-m", "egate.cli"]
DEMO_CLIENT_ID = "demo-department"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
FORM = "public-toilet-fault-report"
ANSWERS = {
    "toilet_location": "Kowloon Park public toilet near Haiphong Road",
    "district": "yau-tsim-mong",
    "fault_type": "blocked",
    "description": "The toilet in the second cubicle is blocked and overflowing.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gateway:
    env: dict[str, str]
    base: str
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The server's own output goes to a file: shown when it does not come up.
        log = tempfile.NamedTemporaryFile(prefix="egate-faults-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [*EGATE, "serve", "--port", self.base.rsplit(":", 1)[1]],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: on a busy machine (the test suite runs this beside other tests) the start
        # alone can take tens of seconds; what is checked is that nothing acknowledged is lost.
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                status = httpx.get(f"{self.base}/health/ready", timeout=2).status_code
                if status == 200:
                    log.close()
                    os.unlink(log.name)  # the server keeps writing to the unlinked file
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        log.close()
        with open(log.name, encoding="utf-8", errors="replace") as output:
            tail = output.read()[-2000:]
        raise SystemExit(f"the gateway did not become ready (last readiness status {status}):\n{tail}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [*EGATE, *args], env=self.env, capture_output=True, text=True, check=False, timeout=300
        )
        if result.returncode != 0:
            raise SystemExit(f"egate {' '.join(args)} failed: {result.stderr.strip()[-400:]}")
        return result.stdout


@dataclass
class Tally:
    submissions: list[tuple[str, str]] = field(default_factory=list)  # (id, reference)
    disclosures: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def department_token(gateway: Gateway, browser: httpx.Client, secret: str, resident: tuple[str, str]) -> str:
    verifier, challenge = pkce()
    query = urlencode(
        {
            "client_id": DEMO_CLIENT_ID,
            "response_type": "code",
            "scope": "openid profile",
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
    )
    callback = sign_in(browser, f"{gateway.base}/authorize?{query}", *resident, stop_at=DEMO_REDIRECT_URI)
    if not callback.is_redirect:
        raise SystemExit(f"no code: the flow ended at {callback.url} ({callback.status_code})")
    code = parse_qs(urlsplit(callback.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{gateway.base}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(DEMO_CLIENT_ID, secret),
        timeout=10,
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


def load(
    gateway: Gateway, tally: Tally, stop: threading.Event, token: str, forms_cookies: httpx.Cookies
) -> None:
    def userinfo_worker() -> None:
        with httpx.Client(base_url=gateway.base, timeout=5) as http:
            while not stop.is_set():
                try:
                    response = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
                except httpx.TransportError:
                    continue
                with tally.lock:
                    if response.status_code == 200:
                        tally.disclosures += 1

    def submission_worker() -> None:
        origin = {"Origin": gateway.base}
        with httpx.Client(base_url=gateway.base, timeout=5, cookies=forms_cookies, headers=origin) as http:
            while not stop.is_set():
                try:
                    draft = http.post("/forms/api/submissions", json={"form": FORM, "answers": ANSWERS})
                    if draft.status_code != 201:
                        continue
                    done = http.post(
                        f"/forms/api/submissions/{draft.json()['id']}/submit",
                        headers={"Idempotency-Key": secrets.token_hex(12)},
                    )
                except httpx.TransportError:
                    continue
                if done.status_code == 200:
                    with tally.lock:
                        tally.submissions.append((str(draft.json()["id"]), str(done.json()["reference"])))

    workers = [threading.Thread(target=userinfo_worker) for _ in range(2)]
    workers += [threading.Thread(target=submission_worker) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seconds-between", type=float, default=3.0)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="egate-faults-"))
    port = free_port()
    env = {
        **os.environ,
        "EGATE_DATA_DIR": str(data_dir),
        "EGATE_ISSUER": f"http://127.0.0.1:{port}",
        "EGATE_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    if args.database_url:
        env["EGATE_DATABASE_URL"] = args.database_url
    gateway = Gateway(env, f"http://127.0.0.1:{port}")
    atexit.register(gateway.kill_if_running)  # also when the script stops on an error
    demo = gateway.cli("demo")
    identifier = re.search(r"identity card number:\s+(\S+)", demo)
    password = re.search(r"password:\s+(\S+)", demo)
    secret = re.search(r"client secret:\s+(\S+)", demo)
    if not (identifier and password and secret):
        raise SystemExit("`egate demo` did not print the demo resident and client secret")
    resident = (identifier.group(1), password.group(1))

    gateway.start()
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        token = department_token(gateway, browser, secret.group(1), resident)
        hub = sign_in(browser, f"{gateway.base}/forms/auth/login?next=/forms/my", *resident)
        if "forms_session" not in browser.cookies:
            raise SystemExit(f"the forms hub did not sign the resident in ({hub.status_code})")
        forms_cookies = httpx.Cookies()
        forms_cookies.set("forms_session", browser.cookies["forms_session"], path="/forms")

    tally = Tally()
    stop = threading.Event()
    loader = threading.Thread(target=load, args=(gateway, tally, stop, token, forms_cookies))
    loader.start()
    try:
        for kill in range(1, args.kills + 1):
            time.sleep(args.seconds_between)
            gateway.kill()
            restarted = time.monotonic()
            gateway.start()
            with tally.lock:
                print(
                    f"kill {kill}: {len(tally.submissions)} submissions and {tally.disclosures}"
                    f" disclosures acknowledged so far; ready again in {time.monotonic() - restarted:.2f} s",
                    flush=True,
                )
        time.sleep(args.seconds_between)
    finally:
        stop.set()
        loader.join()

    lost = missing_submissions(gateway, tally, forms_cookies)
    # The key an auditor trusts is the one the gateway publishes; the restarted server
    # integrates what the killed ones left queued, and is killed only once it has.
    public_key = httpx.get(f"{gateway.base}/consent/ledger/public-key", timeout=30).json()["vkey"]
    wait_for_empty_ledger_queue(gateway)
    gateway.kill()
    export = data_dir / "ledger.jsonl"  # the export signs a checkpoint over the tail first
    gateway.cli("ledger", "export", "--output", str(export))
    verification = gateway.cli("ledger", "verify", str(export), "--public-key", public_key)
    checked = re.search(r"OK: (\d+) entries", verification)
    entries = int(checked.group(1)) if checked else 0
    print(f"acknowledged submissions: {len(tally.submissions)}, stored: {len(tally.submissions) - len(lost)}")
    print(f"acknowledged disclosures: {tally.disclosures}, ledger entries: {entries}")
    print(f"ledger verification: {verification.strip().splitlines()[0]}")
    disclosures_lost = max(0, tally.disclosures - entries)
    print(f"lost: {len(lost) + disclosures_lost}")
    return 1 if lost or disclosures_lost or not checked else 0


def wait_for_empty_ledger_queue(gateway: Gateway, timeout: float = 60) -> None:
    """Until /metrics (read from the database) shows no disclosure waiting for integration."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{gateway.base}/metrics", timeout=30).text
        depth = re.search(r"^egate_ledger_queue_depth (\S+)$", metrics, re.MULTILINE)
        if depth is None:
            raise SystemExit("/metrics has no egate_ledger_queue_depth")
        if float(depth.group(1)) == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"the ledger's queue did not drain in {timeout:.0f} s")


def missing_submissions(gateway: Gateway, tally: Tally, cookies: httpx.Cookies) -> list[str]:
    """Every acknowledged submission, looked up one by one (the resident's list is capped)."""
    missing = []
    with httpx.Client(base_url=gateway.base, cookies=cookies, timeout=30) as http:
        for submission_id, reference in tally.submissions:
            stored = http.get(f"/forms/api/submissions/{submission_id}")
            if stored.status_code != 200 or stored.json().get("reference") != reference:
                missing.append(reference)
    return missing


if __name__ == "__main__":
    sys.exit(main())
