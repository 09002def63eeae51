"""What share of a hot path's CPU one part of it takes, measured in one process by switching
that part off and on in turn.

On this shared VM the same build's CPU per request moves by a third from one minute to the
next, so two runs (before and after a change) compare the minutes more than the builds. Here
the gateway is driven in process (ASGI calls, no sockets) and a named part of the path is
switched off for ``--requests`` requests, then on for as many, for ``--rounds`` rounds in
alternating order; the ratio of CPU per request (the whole process: the ledger's sequencer
and integrity threads included) is taken per round and its median printed. Both halves of a
round share the minute, so the ratio holds where the absolute figures do not.

The parts (``--parts``), each switched off by replacing one function for the run (a
measurement, not a way to serve):

- ``ledger``: a release's disclosure is built as usual but not queued: no insert, no write
  transaction of the loop's turn for it, nothing for the sequencer and the integrity check;
- ``middleware``: requests enter at ``kit.exact_routes`` (no root app, none of our middleware);
- ``root-app``: requests enter at our outermost middleware (none of Starlette's and
  FastAPI's own layers around it);
- ``access-log``: the access log line is not written;
- ``deadline``: ``kit.outage.DeadlineMiddleware`` passes requests straight through.

A part a path does not take (``ledger`` for client_credentials, which releases no claims) shows
the run's noise: its share should be 0%.

The gateway runs at the log level it ships with, its log in the run's temporary directory.

    .venv/bin/python bench/cpu_share.py [--paths userinfo,introspection,client_credentials]
        [--parts ledger,middleware,root-app,access-log,deadline] [--requests 1000] [--rounds 8]
    .venv/bin/python bench/cpu_share.py --layers   # each middleware layer alone, CPU per call
    .venv/bin/python bench/cpu_share.py --sections [--paths introspection]  # the parts' own time

``--sections`` times the synchronous parts of a path named in ``SECTIONS`` (each wrapped in a
``perf_counter`` pair for the run, about half a microsecond a call) and prints the time each
takes per request, inclusive of the parts it calls, beside the process's CPU per request.
Wall time, not CPU: on the loop's thread the two differ by what the OS takes away.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import importlib
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from oidc import REDIRECT_URI, authorize_query, pkce, seed  # noqa: E402  (bench/oidc.py)

ISSUER = "http://127.0.0.1:9"
Call = Callable[[], Awaitable[dict[str, Any]]]


class Switch:
    """Whether the part under measurement is switched off right now."""

    off = False


def switch_off_ledger(switch: type[Switch]) -> None:
    from consent.ledger.service import Ledger

    queue = Ledger.enqueue_many

    def built_not_queued(self: Ledger, db: Any, disclosures: Any, now: Any) -> list[str]:
        if not switch.off:
            return queue(self, db, disclosures, now)
        return [self._entry(disclosure, now)["entry_id"] for disclosure in disclosures]

    Ledger.enqueue_many = built_not_queued  # type: ignore[method-assign]


def switch_off_access_log(switch: type[Switch]) -> None:
    from kit import observability

    log = observability.access_log
    info = log.info

    def maybe(*args: Any, **kwargs: Any) -> None:
        if not switch.off:
            info(*args, **kwargs)

    log.info = maybe  # type: ignore[method-assign]


def switch_off_deadline(switch: type[Switch]) -> None:
    from kit.outage import DeadlineMiddleware

    guarded = DeadlineMiddleware.__call__

    async def maybe(self: DeadlineMiddleware, scope: Any, receive: Any, send: Any) -> None:
        if switch.off:
            await self.app(scope, receive, send)
        else:
            await guarded(self, scope, receive, send)

    DeadlineMiddleware.__call__ = maybe  # type: ignore[method-assign]


def entered_at(app: Any, layer: type) -> Any:
    """The instance of ``layer`` in ``app``'s built middleware stack."""
    node = app.middleware_stack
    while not isinstance(node, layer):
        node = node.app
    return node


class Gateway:
    def __init__(self, data_dir: str) -> None:
        env = {"EGATE_DATA_DIR": data_dir, "EGATE_ISSUER": ISSUER}
        self.seeded = seed(env, id_tokens_signed_with="ES256")
        from egate.app import create_app
        from kit.observability import configure_logging
        from kit.runtime import Runtime
        from kit.settings import load_settings

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_json)
        log_file = logging.FileHandler(Path(data_dir) / "gateway.log")
        log_file.setFormatter(logging.getLogger().handlers[0].formatter)
        logging.getLogger().handlers[:] = [log_file]
        self.app = create_app(Runtime.build(settings))
        self.entry: Any = self.app
        secret = f"{self.seeded['client_id']}:{self.seeded['secret']}".encode()
        self.basic = b"Basic " + base64.b64encode(secret)

    def scope(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
    ) -> dict[str, Any]:
        """An HTTP request's ASGI scope, as uvicorn would give it the app."""
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:9"), *headers],
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 9),
            "app": self.app,
        }

    async def call(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        query: bytes = b"",
    ) -> dict[str, Any]:
        scope = self.scope(method, path, headers, query)
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        answer: dict[str, Any] = {"status": None, "headers": [], "body": b""}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        target = self.entry if Switch.off else self.app
        await target(scope, receive, send)
        return answer

    async def start(self) -> None:
        async def receive() -> dict[str, Any]:
            if not getattr(receive, "started", False):
                receive.started = True  # type: ignore[attr-defined]
                return {"type": "lifespan.startup"}
            await asyncio.sleep(36000)
            return {"type": "lifespan.shutdown"}

        async def send(_message: dict[str, Any]) -> None:
            return None

        lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self.lifespan = asyncio.ensure_future(self.app(lifespan, receive, send))
        await asyncio.sleep(0.5)

    async def tokens(self) -> dict[str, Any]:
        verifier, challenge = pkce()
        query = urlencode(authorize_query(self.seeded["client_id"], challenge)).encode()
        cookie = f"egate_session={self.seeded['cookie']}".encode()
        answer = await self.call("GET", "/authorize", [(b"cookie", cookie)], query=query)
        code = parse_qs(urlsplit(dict(answer["headers"])[b"location"].decode()).query)["code"][0]
        form = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            }
        ).encode()
        answer = await self.call("POST", "/token", [*FORM, (b"authorization", self.basic)], form)
        return dict(json.loads(answer["body"]))

    def path(self, name: str, tokens: dict[str, Any]) -> Call:
        bearer = f"Bearer {tokens['access_token']}".encode()
        client = [*FORM, (b"authorization", self.basic)]
        calls: dict[str, Call] = {
            "userinfo": lambda: self.call("GET", "/userinfo", [(b"authorization", bearer)]),
            "introspection": lambda: self.call(
                "POST", "/introspect", client, urlencode({"token": tokens["refresh_token"]}).encode()
            ),
            "client_credentials": lambda: self.call(
                "POST", "/token", client, b"grant_type=client_credentials"
            ),
        }
        return calls[name]


FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


def switch_on_request(gateway: Gateway, part: str) -> None:
    """Make ``Switch.off`` take ``part`` out of the path."""
    if part == "ledger":
        switch_off_ledger(Switch)
    elif part == "access-log":
        switch_off_access_log(Switch)
    elif part == "deadline":
        switch_off_deadline(Switch)
    elif part == "middleware":
        from kit.exact_routes import ExactRoutesMiddleware

        gateway.entry = entered_at(gateway.app, ExactRoutesMiddleware)
    elif part == "root-app":
        from kit.metrics import MetricsMiddleware

        gateway.entry = entered_at(gateway.app, MetricsMiddleware)
    else:
        raise SystemExit(f"unknown part {part!r}")


async def cpu_per_request(call: Call, requests: int, connections: int) -> float:
    """Milliseconds of the process's CPU per request, ``connections`` requests at a time."""
    left = requests

    async def connection() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            answer = await call()
            if answer["status"] != 200:
                raise SystemExit(f"answered {answer['status']}: {answer['body'][:300]!r}")

    before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(connection() for _ in range(connections)))
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used / requests * 1000


async def measure(part: str, paths: list[str], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="egate-cpu-share-") as data_dir:
        gateway = Gateway(data_dir)
        await gateway.start()
        tokens = await gateway.tokens()
        from egate.heap import freeze_startup_heap

        freeze_startup_heap()  # as `egate serve` does before its first request
        switch_on_request(gateway, part)
        for name in paths:
            call = gateway.path(name, tokens)
            await cpu_per_request(call, 200, args.connections)  # warm-up, part on
            off: list[float] = []
            on: list[float] = []
            for round_ in range(args.rounds):
                for switched_off in (True, False) if round_ % 2 == 0 else (False, True):
                    Switch.off = switched_off
                    (off if switched_off else on).append(
                        await cpu_per_request(call, args.requests, args.connections)
                    )
            Switch.off = False
            ratios = [a / b for a, b in zip(off, on, strict=True)]
            share = 1 - statistics.median(ratios)
            print(
                f"  {name:20s} with it {statistics.median(on):.3f} ms,"
                f" without {statistics.median(off):.3f} ms"
                f" of CPU per request: {part} is {100 * share:.0f}% of it"
                f" (rounds {min(ratios):.2f}-{max(ratios):.2f})",
                flush=True,
            )
        gateway.lifespan.cancel()


async def layer_costs(calls: int) -> None:
    """Each layer of the built middleware stack above ``kit.exact_routes``, alone around an
    app that answers at once: CPU per call beyond that app's. Steadier than switching a part
    off in a whole request, for parts this small."""
    with tempfile.TemporaryDirectory(prefix="egate-cpu-share-") as data_dir:
        gateway = Gateway(data_dir)
        await gateway.call("GET", "/.well-known/openid-configuration", [])  # builds the stack
        from kit.exact_routes import ExactRoutesMiddleware

        async def answer_at_once(_scope: Any, _receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message: dict[str, Any]) -> None:
            return None

        async def cpu_per_call(target: Any) -> float:
            def scope() -> dict[str, Any]:
                return gateway.scope("GET", "/userinfo", [])

            for _ in range(500):
                await target(scope(), receive, send)
            before = resource.getrusage(resource.RUSAGE_SELF)
            for _ in range(calls):
                await target(scope(), receive, send)
            after = resource.getrusage(resource.RUSAGE_SELF)
            return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / calls * 1e6

        alone = await cpu_per_call(answer_at_once)
        node, total = gateway.app.middleware_stack, 0.0
        while not isinstance(node, ExactRoutesMiddleware):
            layer = copy.copy(node)
            layer.app = answer_at_once
            cost = await cpu_per_call(layer) - alone
            total += cost
            print(f"  {type(node).__module__}.{type(node).__name__}: {cost:.1f} us", flush=True)
            node = node.app
        print(f"  all of them: {total:.1f} us of CPU per request", flush=True)


# The synchronous parts of userinfo, introspection and client_credentials, as (module, name):
# functions called through their module or class (one imported by name elsewhere, such as
# ``to_response``, would not be seen).
SECTIONS = (
    ("kit.database_work", "_reads_on_the_loop"),
    ("identity.oidc.adapter", "StarletteOAuth2Request.__init__"),
    ("identity.throttling.service", "assess"),
    ("authlib.oauth2.rfc6749.authorization_server", "AuthorizationServer.authenticate_client"),
    ("authlib.oauth2.rfc7662.introspection", "IntrospectionEndpoint.authenticate_token"),
    ("authlib.oauth2.rfc7662.introspection", "IntrospectionEndpoint.create_introspection_payload"),
    ("identity.oidc.release", "ClaimRelease.record"),
    ("identity.oidc.release", "ClaimRelease.userinfo"),
    ("consent.ledger.service", "Ledger.enqueue_many"),
    ("identity.oidc.tokens", "TokenIssuer.issue"),
    ("kit.insert_batches", "_write_each"),
    ("identity.clients.cache", "ClientCache.get"),
    # Functions are wrapped where the path calls them from (the name its caller looks up).
    ("identity.oidc.userinfo", "presented_access_token_claims"),
    ("identity.oidc.userinfo", "token_with_sealed_claims"),
    ("identity.oidc.release", "ClaimRelease.release_allowed"),
    ("identity.oidc.release", "claims_of"),
    ("identity.oidc.routes", "userinfo_response"),
    ("consent.ledger.repository", "_AppendPath.enqueue"),
)


def time_sections(spent: Counter[str], calls: Counter[str]) -> None:
    """Wrap each of ``SECTIONS`` so that its time and calls add up in ``spent`` and ``calls``."""
    for module_name, name in SECTIONS:
        owner: Any = importlib.import_module(module_name)
        *outer, attribute = name.split(".")
        for part in outer:
            owner = getattr(owner, part)
        original = getattr(owner, attribute)

        def timed(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - started
                calls[_name] += 1

        setattr(owner, attribute, timed)


async def section_costs(paths: list[str], requests: int, rounds: int, connections: int) -> None:
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="egate-cpu-share-") as data_dir:
        gateway = Gateway(data_dir)
        await gateway.start()
        tokens = await gateway.tokens()
        from egate.heap import freeze_startup_heap

        freeze_startup_heap()
        time_sections(spent, calls)
        for name in paths:
            call = gateway.path(name, tokens)
            await cpu_per_request(call, 300, connections)
            for round_ in range(rounds):
                spent.clear()
                calls.clear()
                cpu = await cpu_per_request(call, requests, connections)
                print(f"  {name}, round {round_ + 1}: {cpu * 1000:.0f} us of CPU per request", flush=True)
                for section, seconds in spent.most_common():
                    print(
                        f"    {seconds / requests * 1e6:7.1f} us  {calls[section] / requests:5.2f} calls"
                        f"  {section}",
                        flush=True,
                    )
        gateway.lifespan.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", default="userinfo,introspection,client_credentials")
    parser.add_argument("--parts", default="ledger,middleware,root-app,access-log")
    parser.add_argument("--requests", type=int, default=1000, help="per half round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--layers", action="store_true", help="time each middleware layer alone")
    parser.add_argument("--sections", action="store_true", help="time each part of SECTIONS")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process measuring one part
    args = parser.parse_args()
    if args.layers:
        asyncio.run(layer_costs(20_000))
        return
    if args.sections:
        os.environ.pop("EGATE_LOG_LEVEL", None)
        paths = args.paths.split(",")
        asyncio.run(section_costs(paths, args.requests, min(args.rounds, 3), args.connections))
        return
    if args.one:
        asyncio.run(measure(args.one, args.paths.split(","), args))
        return
    os.environ.pop("EGATE_LOG_LEVEL", None)  # the level it ships with
    for part in args.parts.split(","):
        print(f"== {part}", flush=True)
        # A part's switch replaces functions for the rest of its process: a process each.
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--one", part], check=True)


if __name__ == "__main__":
    main()
