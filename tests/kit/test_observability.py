"""kit.observability: every request gets an id that the app below can read back."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from starlette.testclient import TestClient

from kit.observability import JSONFormatter, RequestContextMiddleware, TextFormatter, request_id_of


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/id")
    def request_id(request: Request) -> str | None:
        return request_id_of(request.scope)

    return app


def test_the_app_reads_the_id_the_middleware_gave_and_echoed() -> None:
    app = _app()
    app.add_middleware(RequestContextMiddleware)
    with TestClient(app) as client:
        response = client.get("/id", headers={"X-Request-ID": "req-42"})
        assert response.json() == "req-42" == response.headers["x-request-id"]
        minted = client.get("/id", headers={"X-Request-ID": "not a safe id!"})
        assert minted.json() == minted.headers["x-request-id"] != "not a safe id!"


def test_without_the_middleware_there_is_no_id() -> None:
    with TestClient(_app()) as client:
        assert client.get("/id").json() is None


def test_the_formatters_time_is_the_standard_librarys_however_seconds_and_formats_interleave() -> None:
    plain = logging.Formatter()
    text, as_json = TextFormatter(), JSONFormatter()
    for created in (1_780_000_000.125, 1_780_000_000.987, 1_780_000_001.004, 1_780_000_000.5):
        record = logging.makeLogRecord({"msg": "m", "created": created, "msecs": (created % 1) * 1000})
        assert text.formatTime(record) == plain.formatTime(record)
        iso = "%Y-%m-%dT%H:%M:%S%z"
        assert as_json.formatTime(record, iso) == plain.formatTime(record, iso)
        assert text.formatTime(record) == plain.formatTime(record), "a date format asked between"
