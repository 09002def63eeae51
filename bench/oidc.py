"""Token endpoint and userinfo throughput over real HTTP.

Starts `egate serve` (one worker process, the default SQLite store in a temp data dir),
seeds a department client and a resident, then drives, from this process:
authorization-code exchange, refresh (rotating), client_credentials, and userinfo (each call
also appends a disclosure to the ledger). Prints requests/s and p50/p99 latency for each.

    taskset -c 1 .venv/bin/python bench/oidc.py --server-cpu 0 [--requests 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
REDIRECT_URI = "https://bench.example.gov.hk/cb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(env: dict[str, str], *, id_tokens_signed_with: str = "RS256") -> dict[str, str]:
    """Client, resident with a remembered consent, and a browser session, straight into the DB.
    ``id_tokens_signed_with``: the client's id_token_signed_response_alg (RS256 when a client omits it)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from consent.port import LedgerConsentPort
    from identity.accounts.schemas import Enrolment
    from identity.accounts.service import enrol_resident
    from identity.assurance import ACR_BASIC
    from identity.clients.service import Registration, register
    from identity.consent_port import ConsentRequest
    from identity.residents.hkid import check_digit
    from identity.security.hashing import hasher_for
    from identity.security.keyring import build_keyring
    from identity.sessions.service import SessionPolicy, start_session
    from kit import migrations
    from kit.db import session_scope
    from kit.runtime import Runtime
    from kit.settings import load_settings

    runtime = Runtime.build(load_settings())
    migrations.upgrade(runtime.engine)
    for db in session_scope(runtime.sessions):
        client, secret = register(
            db,
            runtime.master_key,
            Registration(
                name="Bench Department",
                department="BENCH",
                redirect_uris=[REDIRECT_URI],
                grant_types=("authorization_code", "refresh_token", "client_credentials"),
                allowed_scopes=("openid", "profile", "ledger:department"),
                purpose="Benchmark",
                id_token_signed_response_alg=id_tokens_signed_with,
            ),
            runtime.clock(),
        )
        prefix = "B" + f"{secrets.randbelow(10**6):06d}"
        account = enrol_resident(
            db,
            build_keyring(runtime.master_key, runtime.settings.field_key_generation),
            hasher_for(runtime.settings),
            Enrolment(
                hkid=prefix + check_digit(prefix),
                name="BENCH Resident",
                name_zh=None,
                birthdate=date(1990, 1, 1),
                gender="female",
                address="1 Bench Road, Hong Kong",
                phone="+85290000000",
                email="bench@example.hk",
                password="bench passphrase 123",
            ),
            None,
            now=runtime.clock(),
        )
        LedgerConsentPort().record_grant(
            db,
            ConsentRequest(
                account.id,
                client.client_id,
                "BENCH",
                ("name", "name#zh-HK", "birthdate", "gender"),
                "Benchmark",
                "Benchmark",
            ),
            remember=True,
            given_via="bench",
            now=runtime.clock(),
        )
        cookie, _ = start_session(
            db,
            SessionPolicy.from_settings(runtime.settings),
            runtime.clock(),
            account_id=account.id,
            acr=ACR_BASIC,
            amr=["pwd"],
            source=None,
            user_agent="bench",
        )
        result = {"client_id": client.client_id, "secret": secret, "cookie": cookie}
    runtime.engine.dispose()
    return result


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_query(client_id: str, challenge: str) -> dict[str, str]:
    """The /authorize parameters every benchmark's code flow sends (PKCE S256, openid profile)."""
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def timed(calls, concurrency: int) -> tuple[float, list[float]]:
    queue = list(calls)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def report(name: str, elapsed: float, latencies: list[float]) -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"{name:<28} {len(latencies) / elapsed:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")


async def run(base: str, seeded: dict[str, str], n: int, concurrency: int) -> None:
    auth = (seeded["client_id"], seeded["secret"])
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        async def one_code() -> tuple[str, str]:
            verifier, challenge = pkce()
            response = await http.get(
                "/authorize",
                params=authorize_query(seeded["client_id"], challenge),
                cookies={"egate_session": seeded["cookie"]},
            )
            assert response.status_code == 302, response.text[:300]
            code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
            return code, verifier

        codes = [await one_code() for _ in range(n)]
        results: list[dict] = []

        def exchange(code: str, verifier: str):
            async def call() -> None:
                response = await http.post(
                    "/token",
                    auth=auth,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier,
                    },
                )
                assert response.status_code == 200, response.text
                results.append(response.json())

            return call

        report("authorization_code", *await timed([exchange(c, v) for c, v in codes], concurrency))

        chains = [r["refresh_token"] for r in results[:concurrency]]
        per_chain = n // concurrency

        async def refresh_chain(index: int) -> None:
            for _ in range(per_chain):
                started = time.perf_counter()
                response = await http.post(
                    "/token", auth=auth, data={"grant_type": "refresh_token", "refresh_token": chains[index]}
                )
                assert response.status_code == 200, response.text
                chains[index] = response.json()["refresh_token"]
                refresh_latencies.append(time.perf_counter() - started)

        refresh_latencies: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(*(refresh_chain(i) for i in range(len(chains))))
        report("refresh_token (rotating)", time.perf_counter() - started, refresh_latencies)

        async def client_credentials() -> None:
            response = await http.post(
                "/token", auth=auth, data={"grant_type": "client_credentials", "scope": "ledger:department"}
            )
            assert response.status_code == 200, response.text

        report("client_credentials", *await timed([client_credentials] * n, concurrency))

        tokens = [r["access_token"] for r in results]

        def userinfo(token: str):
            async def call() -> None:
                response = await http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200 and "name" in response.json(), response.text

            return call

        report("userinfo (+ ledger append)", *await timed([userinfo(t) for t in tokens], concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--server-cpu", help="pin the server to this core (taskset), e.g. 0")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="egate-bench-")
    port = free_port()
    env = {
        "EGATE_DATA_DIR": data_dir,
        "EGATE_ISSUER": f"http://127.0.0.1:{port}",
        "EGATE_LOG_LEVEL": "warning",
    }
    seeded = seed(env)
    pin = ["taskset", "-c", args.server_cpu] if args.server_cpu else []
    server = subprocess.Popen(
        [*pin, sys.executable, "-m", "egate.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(
            f"egate serve: one worker, SQLite at {data_dir}; {args.requests} requests per test, "
            f"concurrency {args.concurrency}"
        )
        asyncio.run(run(base, seeded, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
