"""Latency at volume: does a resident's request slow down as the residents grow from 10,000 to
1,000,000? (Issue #17's target: p99 at 1 M within 1.2x of 10 k.)

For each size it seeds an empty PostgreSQL database with ``bench/seed_volume.py``'s
:func:`seed` (accounts, sessions, tokens, consents, two integrated ledger entries each),
starts ``egate serve`` on it (one process, the production argon2id cost) and registers a
department and an audit system. Then, one request at a time, for ``--samples`` residents of
each size picked at random, the sizes taking turns (so that whatever else loads the machine
loads every size alike), it measures:

- **sign-in**: ``POST /signin`` with the right password (argon2id verify included);
- **userinfo**: ``GET /userinfo`` with the department's access token (the release is
  recorded in the ledger: the disclosure's queue insert is in the request);
- **disclosure page**: the resident's ``GET /account/disclosures``;
- **auditor query**: ``GET /consent/ledger/audit/entries?resident_id=...&limit=50`` (the
  query is itself written to the audit access log).

The authorization-code flow between sign-in and userinfo is not measured. After the run it
lists any table the measured requests read by sequential scan (``pg_stat_user_tables``,
reset before the measurement): at volume, a sequential scan is a missing index.

    .venv/bin/python bench/volume_latency.py --residents 10000,1000000 [--samples 300] [--shared-buffers 4GB]

Without EGATE_BENCH_POSTGRES_URL a throwaway cluster is started (fsync off: latency here is
CPU and index work, not the disk's).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import create_engine, select, text

from bench.seed_volume import PASSWORD, resident_email, seed
from identity.accounts.models import Account
from identity.clients.service import Registration, register
from identity.security.keyring import build_keyring
from kit.db import create_db_engine, create_session_factory, session_scope, utcnow
from kit.keys import load_master_key
from kit.settings import Settings
from tests.support.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIRECT_URI = "https://td.example.gov.hk/callback"
OPERATIONS = ("sign-in", "userinfo", "disclosure page", "auditor query")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@contextmanager
def databases(shared_buffers: str | None = None) -> Iterator[Any]:
    """A function making empty databases on one server (a throwaway cluster by default, with
    ``shared_buffers`` if given: PostgreSQL's default of 128 MB holds a small part of the
    indexes of a million residents)."""
    given = os.environ.get("EGATE_BENCH_POSTGRES_URL")
    cluster = None
    if not given:
        from tests.support.postgres import start_temp_cluster

        cluster = start_temp_cluster(settings={"shared_buffers": shared_buffers} if shared_buffers else None)
        given = cluster.url("postgres")
    admin = create_engine(given, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def new_database() -> str:
        name = f"egate_volume_{secrets.token_hex(4)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        base, _, query = given.partition("?")
        return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")

    try:
        yield new_database
    finally:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if cluster is not None:
            cluster.stop()


@dataclass
class Timings:
    samples: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})

    def time(self, operation: str, call: Any) -> httpx.Response:
        started = time.perf_counter()
        response = call()
        self.samples[operation].append(time.perf_counter() - started)
        return response

    def percentile(self, operation: str, q: float) -> float:
        values = sorted(self.samples[operation])
        return values[min(len(values) - 1, int(q * len(values)))] * 1000


def serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EGATE_DATABASE_URL": settings.database_url or "",
        "EGATE_DATA_DIR": str(settings.data_dir),
        "EGATE_MASTER_KEY": settings.master_key or "",
        "EGATE_ISSUER": f"http://127.0.0.1:{port}",
        "EGATE_LOG_LEVEL": "warning",
        "EGATE_MAINTENANCE_INTERVAL_SECONDS": "0",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "egate.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"egate serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("egate serve did not become ready")


def clients(settings: Settings) -> tuple[tuple[str, str], tuple[str, str]]:
    """A department (code flow, profile) and an audit system (client_credentials, ledger:audit)."""
    engine = create_db_engine(settings.database_url or "")
    sessions = create_session_factory(engine)
    root = load_master_key(settings)
    made = []
    for db in session_scope(sessions):
        for registration in (
            Registration(
                name="Transport Department",
                department="TD",
                redirect_uris=[REDIRECT_URI],
                allowed_scopes=("openid", "profile", "email"),
                purpose="Licensing",
            ),
            Registration(
                name="Audit Commission",
                department="AUD",
                redirect_uris=[],
                grant_types=("client_credentials",),
                allowed_scopes=("ledger:audit",),
                audit_system=True,
                purpose="Audit",
            ),
        ):
            client, secret = register(db, root, registration, utcnow())
            made.append((client.client_id, secret or ""))
    engine.dispose()
    return made[0], made[1]


def account_ids(settings: Settings, numbers: list[int]) -> dict[int, str]:
    keyring = build_keyring(load_master_key(settings), settings.field_key_generation)
    engine = create_db_engine(settings.database_url or "")
    with engine.connect() as connection:
        found = {
            i: connection.execute(
                select(Account.id).where(Account.email_index == keyring.email_digest(resident_email(i)))
            ).scalar_one()
            for i in numbers
        }
    engine.dispose()
    return found


def hidden_fields(page: str) -> dict[str, str]:
    return {unescape(name): unescape(value) for name, value in _HIDDEN.findall(page)}


def access_token(http: httpx.Client, department: tuple[str, str]) -> str:
    """The code flow for the signed-in resident (consent approved on its page)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": department[0],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "s",
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.get("/authorize?" + urlencode(query))
    if page.status_code == 200 and 'name="decision"' in page.text:
        page = http.post("/authorize/consent", data={**hidden_fields(page.text), "decision": "approve"})
    assert page.status_code in (302, 303), page.text[:300]
    code = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
    tokens = http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=department,
    )
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


def audit_token(base: str, auditor: tuple[str, str]) -> str:
    granted = httpx.post(
        f"{base}/token", data={"grant_type": "client_credentials", "scope": "ledger:audit"}, auth=auditor
    )
    assert granted.status_code == 200, granted.text
    return str(granted.json()["access_token"])


class Target:
    """One seeded size, served: the residents to sample, the clients, an HTTP connection."""

    def __init__(self, residents: int, settings: Settings, base: str, samples: int) -> None:
        self.residents, self.settings, self.base = residents, settings, base
        self.department, self.auditor = clients(settings)
        self.picked = random.sample(range(residents), samples + WARM_UP)
        self.ids = account_ids(settings, self.picked)
        self.http = httpx.Client(base_url=base, timeout=30)
        self.audit = audit_token(base, self.auditor)
        self.audit_at = time.monotonic()
        self.timings = Timings()

    def one_resident(self, i: int) -> None:
        http, timings = self.http, self.timings
        if time.monotonic() - self.audit_at > 300:
            self.audit, self.audit_at = audit_token(self.base, self.auditor), time.monotonic()
        http.cookies.clear()
        signin_page = http.get("/signin")
        csrf = hidden_fields(signin_page.text)["csrf_token"]
        form = {"csrf_token": csrf, "identifier": resident_email(i), "password": PASSWORD}
        signed_in = timings.time("sign-in", lambda: http.post("/signin?next=/account", data=form))
        assert signed_in.status_code == 303, signed_in.text[:300]
        bearer = {"Authorization": f"Bearer {access_token(http, self.department)}"}
        released = timings.time("userinfo", lambda: http.get("/userinfo", headers=bearer))
        assert released.status_code == 200, released.text
        page = timings.time("disclosure page", lambda: http.get("/account/disclosures"))
        assert page.status_code == 200 and "Transport Department" in page.text, page.text[:300]
        query = f"/consent/ledger/audit/entries?resident_id={self.ids[i]}&limit=50"
        headers = {"Authorization": f"Bearer {self.audit}"}
        audited = timings.time("auditor query", lambda: http.get(query, headers=headers))
        assert audited.status_code == 200 and audited.json()["entries"], audited.text[:300]


WARM_UP = 10


def measure(targets: list[Target]) -> None:
    """Round after round, one resident of each size in turn: whatever else loads the machine
    meanwhile loads every size alike (this machine is shared)."""
    for n in range(len(targets[0].picked)):
        if n == WARM_UP:  # caches and connections warmed up: start counting
            for target in targets:
                target.timings = Timings()
                reset_statistics(target.settings)
        for target in random.sample(targets, len(targets)):
            target.one_resident(target.picked[n])


def reset_statistics(settings: Settings) -> None:
    engine = create_engine(settings.database_url or "", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_reset()"))
    engine.dispose()


def sequential_scans(settings: Settings) -> list[tuple[str, int, int, int]]:
    """Tables read by sequential scan since the reset, with their size (large ones matter)."""
    time.sleep(1)  # the statistics collector reports with a short delay
    engine = create_engine(settings.database_url or "")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT relname, seq_scan, seq_tup_read, n_live_tup FROM pg_stat_user_tables"
                " WHERE seq_scan > 0 ORDER BY seq_tup_read DESC"
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def report_scans(target: Target) -> None:
    scans = [s for s in sequential_scans(target.settings) if s[3] >= 1000]
    for name, count, read, live in scans:
        print(f"  {target.residents:,}: sequential scans of {name} ({live:,} rows): {count}, {read:,} read")
    if not scans:
        print(f"  {target.residents:,}: no table of 1,000 rows or more was read by a sequential scan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", default="10000,1000000", help="comma-separated sizes")
    parser.add_argument("--samples", type=int, default=300, help="residents measured per size")
    parser.add_argument(
        "--shared-buffers", help="the throwaway cluster's shared_buffers (e.g. 4GB); default PostgreSQL's"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.residents.split(",")]
    servers: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as workdir, databases(args.shared_buffers) as new_database:
        try:
            targets = []
            for residents in sizes:
                data_dir = Path(workdir) / f"data-{residents}"
                data_dir.mkdir()
                started = time.perf_counter()
                settings = seed(
                    new_database(), residents, 2, data_dir, build_indexes_after=True, verify_ledger=False
                )
                print(f"{residents:,} residents seeded in {time.perf_counter() - started:.0f} s", flush=True)
                port = free_port()
                servers.append(serve(settings, port, Path(workdir) / f"serve-{residents}.log"))
                targets.append(Target(residents, settings, f"http://127.0.0.1:{port}", args.samples))
            measure(targets)
        finally:
            for server in servers:
                server.send_signal(signal.SIGTERM)
            for server in servers:
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        for target in targets:
            report_scans(target)
    results = {target.residents: target.timings for target in targets}
    header = f"{'operation':<18}" + "".join(f"{f'{n:,}: p50 / p99 ms':>26}" for n in sizes)
    if len(sizes) > 1:
        header += f"{'p99 ratio':>12}"
    print(header)
    for operation in OPERATIONS:
        line = f"{operation:<18}"
        for residents in sizes:
            t = results[residents]
            line += f"{t.percentile(operation, 0.5):>15.1f} / {t.percentile(operation, 0.99):>7.1f}"
        if len(sizes) > 1:
            first, last = results[sizes[0]], results[sizes[-1]]
            line += f"{last.percentile(operation, 0.99) / first.percentile(operation, 0.99):>12.2f}"
        print(line)
    buffers = args.shared_buffers or "PostgreSQL's default"
    print(
        f"({args.samples} residents per size, one request at a time, the sizes interleaved;"
        f" shared_buffers {buffers})"
    )


if __name__ == "__main__":
    main()
