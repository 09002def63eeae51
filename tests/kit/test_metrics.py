"""kit.metrics: requests labelled by route template (bounded, no path data), readings taken
from the database at scrape time, the pool's checked-out connections, who may scrape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from kit.db import create_db_engine, create_session_factory
from kit.metrics import (
    DatabaseReadings,
    MetricsMiddleware,
    Reading,
    checked_out,
    instrument_pool,
    may_scrape,
)


def requests(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("egate_http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_under_their_mount():
    inner = FastAPI()

    @inner.get("/entries/{entry_id}")
    def entry(entry_id: str) -> dict[str, str]:
        return {}

    @inner.get("/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    root = FastAPI()
    root.mount("/kit-test", inner)
    root.add_middleware(MetricsMiddleware)
    client = TestClient(root, raise_server_exceptions=False)
    route = "/kit-test/entries/{entry_id}"
    before = requests("GET", route, "200"), requests("GET", "/kit-test/*", "404")
    before_broken = requests("GET", "/kit-test/broken", "500")
    before_unmatched = requests("OTHER", "unmatched", "404")
    for entry_id in ("HK-A123456-7", "someone@example.com"):
        assert client.get(f"/kit-test/entries/{entry_id}").status_code == 200
    assert client.get("/kit-test/no/such/path").status_code == 404
    assert client.get("/kit-test/broken").status_code == 500
    assert client.request("PROPFIND", "/elsewhere").status_code == 404
    assert requests("GET", route, "200") - before[0] == 2  # one series for every entry id
    assert requests("GET", "/kit-test/*", "404") - before[1] == 1
    assert requests("GET", "/kit-test/broken", "500") - before_broken == 1
    assert requests("OTHER", "unmatched", "404") - before_unmatched == 1  # no made-up method label
    exposition = b"".join(
        f"{sample.labels}".encode() for family in REGISTRY.collect() for sample in family.samples
    )
    assert b"example.com" not in exposition and b"A123456" not in exposition


def test_readings_are_read_at_scrape_time_and_a_silent_database_is_reported(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'metrics.sqlite3'}")
    sessions = create_session_factory(engine)

    def depth(db, now):
        yield Reading("kit_test_depth", "rows", db.scalar(text("SELECT 3")), {"queue": "a"})
        yield Reading("kit_test_depth", "rows", 4, {"queue": "b"})

    readings = DatabaseReadings(sessions, lambda: datetime.now(UTC), [depth])
    families = {family.name: family for family in readings.collect()}
    assert [(s.labels, s.value) for s in families["egate_kit_test_depth"].samples] == [
        ({"queue": "a"}, 3),
        ({"queue": "b"}, 4),
    ]
    assert families["egate_metrics_database_up"].samples[0].value == 1

    def unreachable(db, now):
        raise OperationalError("SELECT", {}, Exception("gone"))

    silent = {
        f.name: f for f in DatabaseReadings(sessions, lambda: datetime.now(UTC), [unreachable]).collect()
    }
    assert list(silent) == ["egate_metrics_database_up"]
    assert silent["egate_metrics_database_up"].samples[0].value == 0
    engine.dispose()


def test_the_pool_gauge_follows_checkouts(tmp_path):
    # A gauge of the test's own: the process's other engines (other tests', their connections
    # returned whenever) count into the real one.
    gauge = Gauge("egate_test_pool_checked_out", "test", registry=CollectorRegistry())
    engine = create_db_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    early = engine.connect()  # out before the engine is instrumented: counted, never negative
    instrument_pool(engine, gauge)
    instrument_pool(engine, gauge)  # twice: counted once
    assert checked_out(engine) == gauge._value.get() == 1
    with engine.connect(), engine.connect():
        assert checked_out(engine) == gauge._value.get() == 3
    early.close()
    assert checked_out(engine) == gauge._value.get() == 0
    engine.dispose()


def scope(client: str, headers: dict[str, str] | None = None) -> dict:
    encoded = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "client": (client, 40000), "headers": encoded}


@pytest.mark.parametrize(
    ("request_scope", "token", "allowed"),
    [
        (scope("127.0.0.1"), None, True),
        (scope("::1"), None, True),
        (scope("10.0.0.5"), None, False),
        (scope("testclient"), None, False),
        (scope("127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}), None, False),
        (scope("127.0.0.1", {"X-Real-IP": "198.51.100.7"}), None, False),
        (scope("127.0.0.1"), "t" * 40, False),  # a token configured: loopback is not enough
        (scope("10.0.0.5", {"Authorization": "Bearer " + "t" * 40}), "t" * 40, True),
        (scope("10.0.0.5", {"Authorization": "bearer " + "t" * 40}), "t" * 40, True),
        (scope("10.0.0.5", {"Authorization": "Bearer " + "t" * 39}), "t" * 40, False),
        (scope("10.0.0.5", {"Authorization": "Basic " + "t" * 40}), "t" * 40, False),
    ],
)
def test_who_may_scrape(request_scope, token, allowed):
    assert may_scrape(request_scope, token) is allowed
