"""Prometheus metrics: the HTTP middleware, the database pool, the ``/metrics`` endpoint.

The kernel owns what every service shares: requests, latency and errors per route
(labelled with the route's template, never the raw path: a path can carry an identifier,
and every distinct path would be a new series), and the connection pool. A service adds
its own counters with :func:`counter` (module-level, incremented where the event happens)
and its own gauges read from the database at scrape time with :func:`contribute` (one
cheap query each, run by the scrape, never by a request).

``egate serve --workers N`` runs prometheus-client's multiprocess mode: every worker
writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape, whichever
worker answers it, reads them all (counters and histograms summed, pool gauges summed
over live workers). One process needs none of that and uses the default registry.

Defended against: the endpoint leaking operational detail to the public. It answers only
a bearer token equal to ``EGATE_METRICS_TOKEN`` (compared in constant time), or, with no
token configured, a client on the loopback interface whose request came through no proxy.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import FastAPI, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.db import DatabaseBusy

METRICS_PATH = "/metrics"
PREFIX = "egate_"
# prometheus-client's own switch to multiprocess mode; `egate serve --workers N` sets it.
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
UNMATCHED = "unmatched"

REQUESTS = Counter(
    PREFIX + "http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    PREFIX + "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_CHECKED_OUT = Gauge(
    PREFIX + "db_pool_checked_out",
    "Database connections in use (checked out of the pool), summed over worker processes",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    PREFIX + "db_pool_size",
    "Connections each pool keeps open (it may open up to its overflow more), summed over workers",
    multiprocess_mode="livesum",
)


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A service's counter, named ``egate_<name>``; labels must take few values (no ids)."""
    return Counter(PREFIX + name, documentation, list(labels))


# -- readings from the database, at scrape time ------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One gauge sample a service reads from the database when scraped."""

    name: str  # without the egate_ prefix
    documentation: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


ReadingSource = Callable[[Session, datetime], Iterable[Reading]]
_READINGS_STATE = "metric_readings"


def contribute(app: FastAPI, source: ReadingSource) -> None:
    """A service's hook: ``source`` is read at every scrape of the app it is mounted in."""
    sources: list[ReadingSource] = getattr(app.state, _READINGS_STATE, [])
    sources.append(source)
    setattr(app.state, _READINGS_STATE, sources)


def contributed(app: FastAPI) -> list[ReadingSource]:
    return list(getattr(app.state, _READINGS_STATE, []))


class DatabaseReadings(Collector):
    """Every service's readings, in one read-only transaction per scrape. The database not
    answering is itself reported (``egate_metrics_database_up 0``), not an error."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime], sources: Sequence[ReadingSource]
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.sources = list(sources)

    def collect(self) -> Iterator[Metric]:
        readings: list[Reading] = []
        up = 1.0
        try:
            with self.sessions() as db:
                now = self.clock()
                for source in self.sources:
                    readings.extend(source(db, now))
                db.rollback()
        except (SQLAlchemyError, DatabaseBusy):
            up, readings = 0.0, []
        families: dict[str, GaugeMetricFamily] = {}
        for reading in readings:
            family = families.get(reading.name)
            if family is None:
                family = families[reading.name] = GaugeMetricFamily(
                    PREFIX + reading.name, reading.documentation, labels=sorted(reading.labels)
                )
            family.add_metric([reading.labels[key] for key in sorted(reading.labels)], reading.value)
        yield from families.values()
        yield GaugeMetricFamily(
            PREFIX + "metrics_database_up", "Whether the scrape could read the database", value=up
        )


# -- requests ------------------------------------------------------------------------------------


def route_template(scope: Scope) -> str:
    """The matched route's template under its mount (``/consent/ledger/entries/{entry_id}``);
    a path no route matched is counted under its mount's prefix, or ``unmatched``."""
    root_path: str = scope.get("root_path", "")
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return root_path + path
    return f"{root_path}/*" if root_path else UNMATCHED


class MetricsMiddleware:
    """Counts every HTTP request by route template and status, and times it. Two dictionary
    lookups and two additions per request: no I/O, nothing read from the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (method, route_template(scope), str(status))
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (REQUESTS.labels(*key), LATENCY.labels(*key[:2]))
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


# -- the connection pool -----------------------------------------------------------------------

_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()
_instrumenting = threading.Lock()


def checked_out(engine: Engine) -> int:
    """The engine's connections in use (its pool's own count)."""
    out = getattr(engine.pool, "checkedout", None)
    return out() if callable(out) else 0


def instrument_pool(engine: Engine, checked_out_gauge: Gauge = POOL_CHECKED_OUT) -> None:
    """Count the engine's checked-out connections into the gauge (pool events: no query;
    one step up or down each, from what the pool had out when instrumented, so that it is
    the sum over the process's engines) and publish its size. One engine per process in a
    deployment; instrumenting it twice changes nothing. Every request checks a connection
    out and in: a step is one locked add (a lock, a weak dictionary and a sum over it took
    3% of a userinfo request)."""
    with _instrumenting:
        if engine in _instrumented:
            return
        _instrumented.add(engine)
        checked_out_gauge.inc(checked_out(engine))
    event.listen(engine, "checkout", lambda *_: checked_out_gauge.inc())
    event.listen(engine, "checkin", lambda *_: checked_out_gauge.dec())
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.set(size())


# -- the endpoint ------------------------------------------------------------------------------


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_scrape(scope: Scope, token: str | None) -> bool:
    """With a token: the request presents it as a bearer token (any address). Without one: the
    peer is loopback and no proxy relayed the request (a proxy on the same host would make
    every client look local; HAProxy's ``option forwardfor`` and nginx's usual
    ``proxy_set_header X-Forwarded-For`` mark what they relay)."""
    headers = dict(scope["headers"])
    if token:
        scheme, _, presented = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            presented.strip().encode("latin-1"), token.encode()
        )
    client = scope.get("client")
    if not _loopback(client[0] if client else None):
        return False
    return not any(name in headers for name in _FORWARDING_HEADERS)


def exposition(readings: DatabaseReadings) -> bytes:
    """The text format: this process's (or every worker's) samples, then the readings."""
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(readings)
    return generate_latest(registry) + generate_latest(scraped)


def install_metrics(
    app: FastAPI,
    *,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    token: str | None,
    sources: Sequence[ReadingSource],
) -> None:
    """Route ``/metrics`` on ``app`` (the composition root's: once per deployment), before
    any catch-all mount; ``sources`` are the services' contributed readings. The requests
    are counted by :class:`MetricsMiddleware`, which the root adds outermost."""
    readings = DatabaseReadings(sessions, clock, sources)
    instrument_pool(engine)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not may_scrape(request.scope, token):
            if token:
                return Response("unauthorised\n", 401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
            return Response("not found\n", 404, media_type="text/plain")
        return Response(exposition(readings), media_type=CONTENT_TYPE_LATEST)


@contextmanager
def shared_by_workers() -> Iterator[str]:
    """Multiprocess mode for the worker processes started inside: a fresh directory (stale
    files from an earlier run would be summed in) named in the environment they inherit,
    removed afterwards. Workers must be spawned, not forked from a process that already
    counted (uvicorn spawns them)."""
    directory = tempfile.mkdtemp(prefix="egate-metrics-")
    previous = os.environ.get(MULTIPROCESS_DIRECTORY)
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
        else:
            os.environ[MULTIPROCESS_DIRECTORY] = previous
        shutil.rmtree(directory, ignore_errors=True)
