"""egate side by side with the certified peer (panva's oidc-provider 9), one run.

Each server in turn is pinned to one core (taskset) while this process drives it from the
other core with a fixed number of keep-alive connections (aiohttp). Per path it prints
requests/s, p50/p99 and the ratio egate/peer:

- client_credentials;
- refresh_token with rotation (one chain per connection, each answer's new refresh token used next);
- authorization_code exchange (codes minted beforehand: egate's through /authorize with a
  signed-in session, the peer's through its own Grant/AuthorizationCode API);
- userinfo (egate records a disclosure in the ledger on every call; the peer records nothing);
- introspection of a live refresh token by its client.

egate runs at the log level it ships with (EGATE_LOG_LEVEL unset), on SQLite in a temporary
data dir. The peer runs with better-sqlite3 (WAL, synchronous=FULL), or in memory with
--peer-memory. The peer is installed on first use (`npm ci`, better-sqlite3 built against /usr).

    .venv/bin/python bench/peer/run.py [--requests 2000] [--connections 10] [--only egate|peer]
    .venv/bin/python bench/peer/run.py --workers 1,2     # egate serve --workers N, unpinned, load from wrk
    .venv/bin/python bench/peer/run.py --workers 1,2 --postgres   # the same on PostgreSQL
    .venv/bin/python bench/peer/run.py --workers 1,2 --independent  # the bound: servers sharing nothing
    .venv/bin/python bench/peer/run.py --rounds 3        # alternate the servers; medians
    .venv/bin/python bench/peer/run.py --interleave 6    # both at once, each path in 6 parts in turn

On this shared VM a server's speed drifts by up to a half within a minute, and a run of one
server after the other compares minutes as much as servers. ``--interleave PARTS`` starts
both, pinned to the same core, and drives each path's requests in PARTS parts, in turn on
each server (which goes first alternating). After each part the server's background work
(egate's sequencer) is let finish before the other's part, and counted as the part's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from ledger import postgres_url  # noqa: E402  (bench/ledger.py)
from oidc import REDIRECT_URI, authorize_query, free_port, pkce, seed  # noqa: E402  (bench/oidc.py)

# `--egate-root` serves another checkout's egate (e.g. main, for before/after figures).
EGATE_ROOT = ROOT
PATHS = ("client_credentials", "refresh (rotating)", "authorization_code", "userinfo", "introspection")
Call = Callable[[aiohttp.ClientSession], Awaitable[None]]


@dataclass
class Result:
    rate: float
    p50: float
    p99: float
    cpu_ms: float = 0.0  # the server's CPU time (user + system) per request
    # The same by thread, in µs per request, by the name the OS knows each by
    # (kit/thread_names.py; the main thread, the event loop's, as "loop").
    threads_us: dict[str, float] = field(default_factory=dict)


def server_threads_cpu_seconds(pid: int | None) -> Counter[str]:
    """The server's CPU time so far by thread name (a pool's threads, ``egate-worker_3`` and
    the like, under their pool's name), from /proc/<pid>/task."""
    spent: Counter[str] = Counter()
    if pid is None:
        return spent
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        name = "loop" if task.name == str(pid) else re.sub(r"_\d+$", "", name)
        spent[name] += cpu_seconds_of(task / "stat")
    return spent


def cpu_seconds_of(stat: Path) -> float:
    """User + system CPU seconds from a /proc ``stat`` file; 0 for a process or thread gone."""
    try:
        fields = stat.read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int | None) -> float:
    """The server's CPU time (user + system) so far, from /proc: a figure that other jobs on
    the machine disturb far less than requests per second."""
    return servers_cpu_seconds([pid] if pid is not None else [])


@dataclass
class Target:
    name: str
    base: str
    client_id: str
    secret: str
    token_path: str
    userinfo_path: str
    introspection_path: str
    codes: list[tuple[str, str]] = field(default_factory=list)
    userinfo_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    extra_token_params: dict[str, str] = field(default_factory=dict)
    pid: int | None = None  # the serving process, whose CPU time is read around each run

    @property
    def auth(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


async def post_form(http: aiohttp.ClientSession, url: str, auth: str, form: dict[str, str]) -> dict:
    async with http.post(url, data=form, headers={"Authorization": auth}) as response:
        body = await response.read()
        if response.status != 200:
            raise AssertionError(f"{url} {response.status} {body[:300]!r}")
        return json.loads(body)


@dataclass
class Chunk:
    """One run of some of a path's requests against one server."""

    elapsed: float
    latencies: list[float]
    cpu: float  # the server's CPU seconds
    threads: Counter[str] = field(default_factory=Counter)  # the same by thread


async def run_calls(
    http: aiohttp.ClientSession, calls: list[Call], connections: int, pid: int | None
) -> Chunk:
    queue = list(reversed(calls))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call(http)
            latencies.append(time.perf_counter() - started)

    return await timed_chunk(pid, latencies, asyncio.gather(*(worker() for _ in range(connections))))


async def timed_chunk(pid: int | None, latencies: list[float], work: Awaitable[object]) -> Chunk:
    """Await ``work``, which appends each request's latency to ``latencies``: its time, those
    latencies and the server's CPU meanwhile."""
    started, cpu, threads = time.perf_counter(), server_cpu_seconds(pid), server_threads_cpu_seconds(pid)
    await work
    elapsed, spent = time.perf_counter() - started, server_cpu_seconds(pid) - cpu
    return Chunk(elapsed, latencies, spent, server_threads_cpu_seconds(pid) - threads)


def summarise(chunks: list[Chunk]) -> Result:
    latencies = sorted(latency for chunk in chunks for latency in chunk.latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    rate = len(latencies) / sum(chunk.elapsed for chunk in chunks)
    cpu = sum(chunk.cpu for chunk in chunks)
    threads = sum((chunk.threads for chunk in chunks), Counter())
    per_request = {name: seconds * 1e6 / len(latencies) for name, seconds in threads.most_common()}
    return Result(
        rate, statistics.median(latencies) * 1000, p99 * 1000, cpu * 1000 / len(latencies), per_request
    )


# The order the paths run in: the code exchange's tokens start the refresh chains (whose last
# refresh tokens are then introspected) and are userinfo's.
RUN_ORDER = ("client_credentials", "authorization_code", "refresh (rotating)", "userinfo", "introspection")


class Workload:
    """One server's requests on every path, run whole or in parts (``run``), path after path
    in ``RUN_ORDER``."""

    def __init__(self, target: Target, n: int, connections: int) -> None:
        self.target, self.n, self.connections = target, n, connections
        self.token_url = target.base + target.token_path
        self.exchanged: list[dict] = []
        self.chains: list[str] = []
        self._calls: dict[str, list[Call]] = {}

    def _client_credentials(self, session: aiohttp.ClientSession) -> Awaitable[dict]:
        form = {"grant_type": "client_credentials", "scope": "ledger:department"}
        return post_form(session, self.token_url, self.target.auth, form | self.target.extra_token_params)

    def _exchange(self, code: str, verifier: str) -> Call:
        async def call(session: aiohttp.ClientSession) -> None:
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            }
            self.exchanged.append(await post_form(session, self.token_url, self.target.auth, form))

        return call

    def _userinfo(self, token: str) -> Call:
        async def call(session: aiohttp.ClientSession) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(self.target.base + self.target.userinfo_path, headers=headers) as response:
                body = await response.json(content_type=None)
                assert response.status == 200 and "name" in body, body

        return call

    def _introspect(self, token: str) -> Call:
        async def call(session: aiohttp.ClientSession) -> None:
            form = {"token": token, "token_type_hint": "refresh_token"}
            url = self.target.base + self.target.introspection_path
            answer = await post_form(session, url, self.target.auth, form)
            assert answer["active"] is True, answer

        return call

    def _calls_for(self, path: str) -> list[Call]:
        """The path's requests, made once it is the path's turn (each takes what the paths
        before it left: codes exchanged, refresh chains)."""
        if path not in self._calls:
            target, n = self.target, self.n
            if path == "client_credentials":
                calls: list[Call] = [self._client_credentials] * n
            elif path == "authorization_code":
                calls = [self._exchange(code, verifier) for code, verifier in target.codes[:n]]
            elif path == "userinfo":
                tokens = target.userinfo_tokens or [r["access_token"] for r in self.exchanged]
                calls = [self._userinfo(token) for token in tokens[:n]]
            else:  # introspection: of the chains' live refresh tokens
                calls = [self._introspect(self.chains[i % len(self.chains)]) for i in range(n)]
            self._calls[path] = calls
        return self._calls[path]

    async def warm_up(self, http: aiohttp.ClientSession) -> None:
        await run_calls(http, [self._client_credentials] * 200, self.connections, None)  # not reported

    async def run(self, http: aiohttp.ClientSession, path: str, part: int = 0, parts: int = 1) -> Chunk:
        """Part ``part`` of ``parts`` of the path's requests."""
        if path == "refresh (rotating)":
            if not self.chains:
                connections = self.connections
                self.chains = self.target.refresh_tokens[:connections] or [
                    r["refresh_token"] for r in self.exchanged[:connections]
                ]
            per_chain = self.n // len(self.chains)
            return await self._refresh(http, per_chain * (part + 1) // parts - per_chain * part // parts)
        calls = self._calls_for(path)
        low, high = len(calls) * part // parts, len(calls) * (part + 1) // parts
        return await run_calls(http, calls[low:high], self.connections, self.target.pid)

    async def _refresh(self, http: aiohttp.ClientSession, steps: int) -> Chunk:
        """``steps`` refreshes on each chain, one chain per connection, each answer's new
        refresh token used next."""
        latencies: list[float] = []
        chains = self.chains

        async def refresh_chain(index: int) -> None:
            for _ in range(steps):
                started = time.perf_counter()
                form = {"grant_type": "refresh_token", "refresh_token": chains[index]}
                answer = await post_form(http, self.token_url, self.target.auth, form)
                chains[index] = answer["refresh_token"]
                latencies.append(time.perf_counter() - started)

        chained = asyncio.gather(*(refresh_chain(i) for i in range(len(chains))))
        return await timed_chunk(self.target.pid, latencies, chained)


async def drive(target: Target, n: int, connections: int) -> dict[str, Result]:
    """Every path on one server, each path's requests in one run."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        workload = Workload(target, n, connections)
        await workload.warm_up(http)
        return {path: summarise([await workload.run(http, path)]) for path in RUN_ORDER}


# --interleave: after a server's part, its background work (egate's ledger sequencer
# integrating what the part queued) is let finish before the other server's part starts, so
# that it does not slow the other's. Its CPU is the part's; its time is not: the integrity
# check's scan runs by the clock, not by the requests, and would be charged as often as the
# interleaving waits.
QUIET_WINDOW_SECONDS = 0.35  # longer than the sequencer's pause after a batch (at most 0.3 s)
QUIET_CPU_SECONDS = 0.01


async def settle(pid: int | None) -> float:
    """Wait until the server is quiet for a whole window; the CPU seconds it spent till then."""
    spent = 0.0
    for _ in range(20):
        cpu = server_cpu_seconds(pid)
        await asyncio.sleep(QUIET_WINDOW_SECONDS)
        window = server_cpu_seconds(pid) - cpu
        spent += window
        if window < QUIET_CPU_SECONDS:
            break
    return spent


async def drive_interleaved(
    targets: list[Target], n: int, connections: int, parts: int
) -> dict[str, dict[str, Result]]:
    """Every path on every server, each path's requests in ``parts`` parts run in turn on the
    servers (which goes first alternating), so that all of them meet the same minutes of a
    shared machine: a VM's speed drifts within a minute, by a half at times."""
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))
            )
            for _ in targets
        ]
        workloads = [Workload(target, n, connections) for target in targets]
        for workload, http in zip(workloads, sessions, strict=True):
            await workload.warm_up(http)
            await settle(workload.target.pid)
        results: dict[str, dict[str, Result]] = {target.name: {} for target in targets}
        for path in RUN_ORDER:
            chunks: list[list[Chunk]] = [[] for _ in targets]
            for part in range(parts):
                turn = range(len(targets)) if part % 2 == 0 else reversed(range(len(targets)))
                for index in turn:
                    chunk = await workloads[index].run(sessions[index], path, part, parts)
                    threads = server_threads_cpu_seconds(targets[index].pid)
                    chunk.cpu += await settle(targets[index].pid)
                    chunk.threads += server_threads_cpu_seconds(targets[index].pid) - threads
                    chunks[index].append(chunk)
            for target, taken in zip(targets, chunks, strict=True):
                results[target.name][path] = summarise(taken)
        return results


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}; see its log")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server not ready at {url}")


@contextlib.contextmanager
def stopped_after(process: subprocess.Popen) -> Iterator[None]:
    """The block, then the server stopped, however the block ended."""
    try:
        yield
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def start_egate(server_cpu: str | None, workers: int = 1) -> tuple[subprocess.Popen, dict[str, str], str]:
    data_dir = tempfile.mkdtemp(prefix="egate-peer-bench-")
    port = free_port()
    env = {"EGATE_DATA_DIR": data_dir, "EGATE_ISSUER": f"http://127.0.0.1:{port}"}
    # ID tokens in ES256, as the peer's client has them (server.mjs): an RS256 signature
    # (RSA-2048) took ~1 ms, half of a refresh, where ES256 takes tens of microseconds.
    seeded = seed(env, id_tokens_signed_with="ES256")
    pin = ["taskset", "-c", server_cpu] if server_cpu else []
    argv = [*pin, sys.executable, "-m", "egate.cli", "serve", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    # The log goes to a file: a pipe nobody reads would block the server once full.
    log = open(Path(data_dir) / "serve.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(argv, env={**os.environ, **env}, cwd=EGATE_ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/health/ready", process, timeout=60 * workers)
    except SystemExit:
        stop(process)
        raise
    return process, seeded, base


def egate_codes(base: str, seeded: dict[str, str], n: int) -> list[tuple[str, str]]:
    codes = []
    with httpx.Client(base_url=base, cookies={"egate_session": seeded["cookie"]}) as http:
        for _ in range(n):
            verifier, challenge = pkce()
            response = http.get(
                "/authorize",
                params=authorize_query(seeded["client_id"], challenge),
            )
            assert response.status_code == 302, response.text[:300]
            codes.append((parse_qs(urlsplit(response.headers["location"]).query)["code"][0], verifier))
    return codes


@contextlib.contextmanager
def egate_target(args: argparse.Namespace) -> Iterator[Target]:
    """egate serving, pinned, its codes minted; stopped afterwards."""
    process, seeded, base = start_egate(args.server_cpu)
    with stopped_after(process):
        target = Target(
            "egate", base, seeded["client_id"], seeded["secret"], "/token", "/userinfo", "/introspect"
        )
        target.codes = egate_codes(base, seeded, args.requests)
        target.pid = process.pid
        yield target


def run_egate(args: argparse.Namespace) -> dict[str, Result]:
    with egate_target(args) as target:
        if args.profile:
            profiler = subprocess.Popen(
                [
                    args.profile,
                    "record",
                    "-o",
                    args.profile_out,
                    "--pid",
                    str(target.pid),
                    "-r",
                    "200",
                    "--nonblocking",
                    "--format",
                    args.profile_format,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        try:
            return asyncio.run(drive(target, args.requests, args.connections))
        finally:
            if args.profile:
                profiler.send_signal(2)
                profiler.wait(timeout=60)


def install_peer() -> None:
    """npm ci once per checkout; better-sqlite3 builds against Debian's Node headers."""
    if (HERE / "node_modules" / "oidc-provider").exists():
        return
    print("installing the peer (npm ci, about two minutes once)...", flush=True)
    env = {**os.environ, "npm_config_nodedir": "/usr"}
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, env=env, check=True)


@contextlib.contextmanager
def peer_target(args: argparse.Namespace) -> Iterator[Target]:
    """The peer serving, pinned, its codes and access tokens minted through its own API;
    stopped afterwards."""
    install_peer()
    port, seed_port = free_port(), free_port()
    db = tempfile.mkdtemp(prefix="egate-peer-") + "/peer.db"
    pin = ["taskset", "-c", args.server_cpu] if args.server_cpu else []
    argv = [
        *pin,
        "node",
        str(HERE / "server.mjs"),
        "--port",
        str(port),
        "--seed-port",
        str(seed_port),
        "--db",
        db,
    ]
    if args.peer_memory:
        argv.append("--memory")
    log = open(Path(db).parent / "peer.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(argv, cwd=HERE, stdout=log, stderr=log)
    with stopped_after(process):
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/.well-known/openid-configuration", process)
        target = Target("peer", base, "bench-client", "bench-secret", "/token", "/me", "/token/introspection")

        def minted(kind: str) -> list[dict]:
            out: list[dict] = []
            while len(out) < args.requests:
                url = f"http://127.0.0.1:{seed_port}/seed?kind={kind}&n=500"
                out += httpx.get(url, timeout=120).raise_for_status().json()
            return out[: args.requests]

        target.codes = [(c["code"], c["verifier"]) for c in minted("code")]
        target.userinfo_tokens = [t["access_token"] for t in minted("userinfo")]
        target.pid = process.pid
        yield target


def run_peer(args: argparse.Namespace) -> dict[str, Result]:
    with peer_target(args) as target:
        return asyncio.run(drive(target, args.requests, args.connections))


def run_interleaved(args: argparse.Namespace) -> dict[str, dict[str, Result]]:
    """Both servers at once, pinned to the same core, driven in turn (``drive_interleaved``)."""
    with egate_target(args) as egate, peer_target(args) as peer:
        return asyncio.run(drive_interleaved([egate, peer], args.requests, args.connections, args.interleave))


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def servers_cpu_seconds(pids: list[int]) -> float:
    """The CPU time of ``pids`` so far (user + system), those that have ended left out."""
    return sum(cpu_seconds_of(Path(f"/proc/{pid}/stat")) for pid in pids)


def run_workers(args: argparse.Namespace) -> None:
    """egate serve --workers N, unpinned (the load generator shares the two cores); with
    ``--postgres`` each N on a fresh database of a throwaway PostgreSQL cluster
    (bench/ledger.py's), which shares the cores too."""
    by_count: dict[int, dict[str, WrkResult]] = {}
    for count in (int(w) for w in args.workers.split(",")):
        with contextlib.ExitStack() as stack:
            if args.postgres:
                os.environ["EGATE_DATABASE_URL"] = stack.enter_context(postgres_url())
                stack.callback(os.environ.pop, "EGATE_DATABASE_URL", None)
            by_count[count] = (run_independent_once if args.independent else run_workers_once)(args, count)
    one = by_count.get(1)
    if one:
        for count, results in by_count.items():
            if count != 1:
                ratios = ", ".join(f"{path} {results[path].rate / one[path].rate:.2f}x" for path in results)
                print(f"workers={count} against one worker: {ratios}")


def ensure_wrk() -> str:
    """wrk (Debian's package) drives the --workers runs: a load generator in C takes a small
    share of the two cores the workers share with it (aiohttp took about as much CPU per
    request as the server, so two workers could never show their scaling)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("--workers needs wrk: apt-get install wrk")
    print("installing wrk (apt-get install wrk)...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


@dataclass
class WrkResult:
    rate: float
    p50_ms: float
    p99_ms: float
    failures: int
    server_cpu_ms: float
    generator_cpu_ms: float
    cores_busy: float  # the whole machine's, PostgreSQL's server processes included
    connections: tuple[int, ...] = ()  # per serving process, most first


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the machine spent busy and idle (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, idle / tick


def wrk_milliseconds(text: str) -> float:
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def run_wrk(wrk: str, url: str, script: str, args: argparse.Namespace, pids: list[int]) -> WrkResult:
    """One wrk run of ``args.seconds`` at ``args.connections`` connections (two threads); the
    CPU of the server's processes and of wrk itself per request."""
    argv = [wrk, "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", script, url]
    server, generator = servers_cpu_seconds(pids), resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, started = machine_busy_seconds()[0], time.monotonic()
    running = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(min(1.0, args.seconds / 2))
    connections = connections_per_process(urlsplit(url).port or 80)
    out, err = running.communicate()
    if running.returncode:
        raise subprocess.CalledProcessError(running.returncode, argv, out, err)
    cores_busy = (machine_busy_seconds()[0] - busy) / (time.monotonic() - started)
    server = servers_cpu_seconds(pids) - server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    generator_cpu = after.ru_utime + after.ru_stime - generator.ru_utime - generator.ru_stime
    lines = [line.split() for line in out.splitlines()]
    rate = next(float(w[1]) for w in lines if w[:1] == ["Requests/sec:"])
    requests = next(int(w[0]) for w in lines if w[1:3] == ["requests", "in"])
    p50 = next(wrk_milliseconds(w[1]) for w in lines if w[:1] == ["50%"])
    p99 = next(wrk_milliseconds(w[1]) for w in lines if w[:1] == ["99%"])
    failures = sum(int(w[-1]) for w in lines if w[:1] == ["Non-2xx"] or w[:2] == ["Socket", "errors:"])
    per = 1000 / max(requests, 1)
    return WrkResult(rate, p50, p99, failures, server * per, generator_cpu * per, cores_busy, connections)


def connections_per_process(port: int) -> tuple[int, ...]:
    """How many established connections each process serving ``port`` holds, most first
    (iproute2's ``ss``; empty without it). With ``--workers``, the processes share one
    listening socket and keep-alive connections stay where they were accepted: when most land
    on one worker, that run measures about one worker, whatever the count."""
    try:
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ()
    held = Counter(re.findall(r"pid=(\d+)", listing))
    return tuple(sorted(held.values(), reverse=True))


def wrk_targets(base: str, seeded: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Per path, the URL and wrk's Lua script of its request (one access token for every
    userinfo call; each call records its own disclosure)."""
    target = Target(
        "egate", base, seeded["client_id"], seeded["secret"], "/token", "/userinfo", "/introspect"
    )
    code, verifier = egate_codes(base, seeded, 1)[0]
    exchanged = (
        httpx.post(
            base + "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            headers={"Authorization": target.auth},
        )
        .raise_for_status()
        .json()
    )
    scripts = Path(tempfile.mkdtemp(prefix="egate-wrk-"))
    (scripts / "client_credentials.lua").write_text(
        'wrk.method = "POST"\n'
        'wrk.body = "grant_type=client_credentials&scope=ledger%3Adepartment"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "{target.auth}"\n'
    )
    (scripts / "userinfo.lua").write_text(
        f'wrk.headers["Authorization"] = "Bearer {exchanged["access_token"]}"\n'
    )
    (scripts / "introspection.lua").write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "token={exchanged["refresh_token"]}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "{target.auth}"\n'
    )
    urls = {
        "client_credentials": base + "/token",
        "userinfo": base + "/userinfo",
        "introspection": base + "/introspect",
    }
    return {path: (url, str(scripts / f"{path}.lua")) for path, url in urls.items()}


def print_wrk(label: str, results: dict[str, WrkResult]) -> None:
    for path, result in results.items():
        print(
            f"{label}: {path:18s} {result.rate:7.0f} req/s  p50 {result.p50_ms:6.1f} ms"
            f"  p99 {result.p99_ms:6.1f} ms  server cpu {result.server_cpu_ms:5.2f} ms/req"
            f"  wrk cpu {result.generator_cpu_ms:5.2f} ms/req  failed {result.failures}"
            f"  machine busy {result.cores_busy:4.2f} of {os.cpu_count()} cores"
            + (f"  connections per process {list(result.connections)}" if result.connections else ""),
            flush=True,
        )


def run_workers_once(args: argparse.Namespace, count: int) -> dict[str, WrkResult]:
    wrk = ensure_wrk()
    process, seeded, base = start_egate(None, workers=count)
    try:
        time.sleep(2 * count)  # the workers start after the parent answers
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        pids = [process.pid, *(int(pid) for pid in children)]
        targets = wrk_targets(base, seeded)
        warm = argparse.Namespace(**{**vars(args), "seconds": 2})
        run_wrk(wrk, *targets["client_credentials"], warm, pids)
        results = {path: run_wrk(wrk, url, script, args, pids) for path, (url, script) in targets.items()}
        rss = [resident_kib(int(pid)) // 1024 for pid in children if Path(f"/proc/{pid}").exists()]
        if not rss:
            rss = [resident_kib(process.pid) // 1024]
        print_wrk(f"workers={count}", results)
        print(f"workers={count}: resident MiB per process {rss}  load average {os.getloadavg()}")
        return results
    finally:
        stop(process)


def drive_path(
    wrk: str, path: str, args: argparse.Namespace, pids: list[int], targets: dict[str, tuple[str, str]]
) -> WrkResult:
    return run_wrk(wrk, *targets[path], args, pids)


def run_independent_once(args: argparse.Namespace, count: int) -> dict[str, WrkResult]:
    """``count`` single-process servers, each on a SQLite database of its own, each driven by
    a wrk of its own at the same time (the connections shared out): what this machine gives
    ``count`` processes that share nothing, the bound for ``--workers count`` on it."""
    wrk = ensure_wrk()
    servers = [start_egate(None) for _ in range(count)]
    try:
        pids = [process.pid for process, _, _ in servers]
        targets = [wrk_targets(base, seeded) for _, seeded, base in servers]
        share = argparse.Namespace(**{**vars(args), "connections": max(1, args.connections // count)})
        warm = argparse.Namespace(**{**vars(share), "seconds": 2})
        for each in targets:
            run_wrk(wrk, *each["client_credentials"], warm, pids)
        results = {}
        for path in targets[0]:
            with ThreadPoolExecutor(count) as pool:
                runs = list(pool.map(partial(drive_path, wrk, path, share, pids), targets))
            # Each run read every server's CPU over the same seconds: per request of all runs.
            results[path] = WrkResult(
                rate=sum(r.rate for r in runs),
                p50_ms=max(r.p50_ms for r in runs),
                p99_ms=max(r.p99_ms for r in runs),
                failures=sum(r.failures for r in runs),
                server_cpu_ms=1 / sum(1 / r.server_cpu_ms for r in runs),
                generator_cpu_ms=statistics.mean(r.generator_cpu_ms for r in runs),
                cores_busy=statistics.mean(r.cores_busy for r in runs),
            )
        print_wrk(f"independent servers={count}", results)
        return results
    finally:
        for process, _, _ in servers:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--only", choices=["egate", "peer"])
    parser.add_argument("--peer-memory", action="store_true", help="the peer's in-memory adapter")
    parser.add_argument("--workers", help="instead: egate serve --workers N for each N, e.g. 1,2")
    parser.add_argument("--postgres", action="store_true", help="with --workers: on PostgreSQL, not SQLite")
    parser.add_argument(
        "--independent",
        action="store_true",
        help="with --workers N: N servers on databases of their own, driven at once (the machine's bound)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="with --workers: each path's run (wrk)")
    parser.add_argument("--profile", help="path to py-spy: record egate's server during its run")
    parser.add_argument("--profile-out", default="egate-profile.svg")
    parser.add_argument("--profile-format", default="flamegraph", help="py-spy format: flamegraph, raw")
    parser.add_argument("--egate-root", type=Path, default=ROOT, help="serve egate from this checkout")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both servers this many times, in turn; print each and the median",
    )
    parser.add_argument(
        "--interleave",
        type=int,
        default=0,
        metavar="PARTS",
        help="both servers at once, each path's requests in PARTS parts driven in turn on each",
    )
    args = parser.parse_args()
    if args.interleave and (args.only or args.profile):
        parser.error("--interleave drives both servers: not with --only or --profile")
    global EGATE_ROOT
    EGATE_ROOT = args.egate_root
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  load average {os.getloadavg()}")
    if args.workers:
        run_workers(args)
        return
    os.sched_setaffinity(0, {args.client_cpu})
    # On a shared VM one run's rates move by a quarter from one run to the next, for either
    # server: rounds alternate the two, and the median of each figure is what to quote.
    rounds: list[dict[str, dict[str, Result]]] = []
    for number in range(1, args.rounds + 1):
        runs: dict[str, dict[str, Result]] = {}
        if args.interleave:
            runs = run_interleaved(args)
        if args.only != "peer" and not args.interleave:
            runs["egate"] = run_egate(args)
        if args.only != "egate" and not args.interleave:
            runs["peer"] = run_peer(args)
        rounds.append(runs)
        if args.rounds > 1:
            print_table(f"round {number} of {args.rounds}", runs, args)
    print_table("median of the rounds" if args.rounds > 1 else "", median_of(rounds), args)
    print(f"load average after {os.getloadavg()}")


def median_of(rounds: list[dict[str, dict[str, Result]]]) -> dict[str, dict[str, Result]]:
    """Each figure's median over the rounds (figure by figure, so not one round's row)."""
    median: dict[str, dict[str, Result]] = {}
    for name in rounds[0]:
        median[name] = {}
        for path in PATHS:
            results = [runs[name][path] for runs in rounds]
            median[name][path] = Result(
                statistics.median(r.rate for r in results),
                statistics.median(r.p50 for r in results),
                statistics.median(r.p99 for r in results),
                statistics.median(r.cpu_ms for r in results),
                {
                    thread: statistics.median(r.threads_us.get(thread, 0.0) for r in results)
                    for thread in results[0].threads_us
                },
            )
    return median


def print_table(title: str, runs: dict[str, dict[str, Result]], args: argparse.Namespace) -> None:
    store = "memory" if args.peer_memory else "SQLite WAL"
    print(
        f"{title + ': ' if title else ''}{args.requests} requests per path, {args.connections} connections;"
        f" peer store: {store}"
    )
    # egate/peer: the ratio of requests per second; "by CPU": the peer's server CPU time per
    # request over egate's, the ratio the two would show on a quiet core of their own.
    heading = "".join(f"{name:>44}" for name in runs)
    print(f"{'path':<22}{heading}   egate/peer  by CPU")
    for path in PATHS:
        cells = "".join(
            f"{r.rate:9.0f}/s p50 {r.p50:5.1f} p99 {r.p99:5.1f} cpu {r.cpu_ms:5.2f} ms"
            for r in (runs[name][path] for name in runs)
        )
        ratio = ""
        if len(runs) == 2:
            ours, peer = runs["egate"][path], runs["peer"][path]
            ratio = f"{ours.rate / peer.rate:8.2f}  {peer.cpu_ms / ours.cpu_ms:8.2f}"
        print(f"{path:<22}{cells}   {ratio}", flush=True)
    if "egate" in runs and any(runs["egate"][path].threads_us for path in PATHS):
        print("egate's CPU per request by thread (µs):")
        for path in PATHS:
            shares = runs["egate"][path].threads_us
            print(f"  {path:<20}" + " · ".join(f"{name} {us:.0f}" for name, us in shares.items() if us >= 1))


if __name__ == "__main__":
    main()
