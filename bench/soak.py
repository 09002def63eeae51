"""Soak: table sizes stay flat under steady load, because `egate serve` runs the housekeeping
(egate/maintenance.py) on its schedule.

Starts `egate serve` (SQLite in a temp dir) with short lifetimes (codes 10 s, access tokens
30 s, refresh tokens 60 s) and maintenance every 5 s, then drives a steady rate of grants:
/authorize, the code exchange, one refresh, one userinfo call (a ledger entry). Every few
seconds it prints the rows of the tables that grow with that load. Once the longest lifetime
has passed, what expires is removed as fast as it is added: the sizes level off.

    .venv/bin/python bench/soak.py [--seconds 120] [--rate 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.oidc import REDIRECT_URI, authorize_query, free_port, pkce, seed

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("idp_authorization_codes", "idp_tokens", "consent_ledger_queue")
LIFETIMES = {
    "EGATE_AUTHORIZATION_CODE_TTL_SECONDS": "10",
    "EGATE_ACCESS_TOKEN_TTL_SECONDS": "30",
    "EGATE_ID_TOKEN_TTL_SECONDS": "30",
    "EGATE_REFRESH_TOKEN_TTL_SECONDS": "60",
    "EGATE_MAINTENANCE_INTERVAL_SECONDS": "5",
}


def grant(http: httpx.Client, seeded: dict[str, str]) -> None:
    verifier, challenge = pkce()
    authorize = http.get(
        "/authorize",
        params=authorize_query(seeded["client_id"], challenge),
        cookies={"egate_session": seeded["cookie"]},
    )
    assert authorize.status_code == 302, authorize.text[:300]
    code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
    auth = (seeded["client_id"], seeded["secret"])
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = http.post("/token", auth=auth, data={**data, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    refreshed = http.post(
        "/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    userinfo = http.get("/userinfo", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text


def sizes(database: str) -> dict[str, int]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            # Table names from TABLES above, never from input.
            counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}  # noqa: S608
            return {t: int(n) for t, n in counts.items()}
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=8.0, help="grants per second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between size reports")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="egate-soak-")
    port = free_port()
    env = {
        "EGATE_DATA_DIR": data_dir,
        "EGATE_ISSUER": f"http://127.0.0.1:{port}",
        "EGATE_LOG_LEVEL": "warning",
        **LIFETIMES,
    }
    seeded = seed(env)
    database = f"sqlite:///{data_dir}/egate.sqlite3"
    server = subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    history: list[dict[str, int]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the gateway did not become ready")
                time.sleep(0.2)
            print(
                f"steady load: {args.rate:g} grants/s for {args.seconds:g} s; lifetimes {LIFETIMES}",
                flush=True,
            )
            started = time.monotonic()
            next_report = started + args.every
            done = 0
            while (now := time.monotonic()) < started + args.seconds:
                behind = int((now - started) * args.rate) - done
                if behind <= 0:
                    time.sleep(min(0.05, 1 / args.rate))
                    continue
                grant(http, seeded)
                done += 1
                if now >= next_report:
                    history.append(sizes(database))
                    row = "  ".join(f"{t} {n:6d}" for t, n in history[-1].items())
                    print(f"  t={now - started:5.0f} s  grants {done:6d}  {row}", flush=True)
                    next_report += args.every
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Flat: over the last third of the run no table grew by more than a fifth of its size
    # at the start of that third (the load kept adding rows all along).
    tail = history[len(history) * 2 // 3 :]
    flat = len(tail) >= 2 and all(max(h[t] for h in tail) <= 1.2 * max(tail[0][t], 10) for t in TABLES)
    print(f"table sizes over the last third of the run: {'flat' if flat else 'GROWING'}", flush=True)
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
