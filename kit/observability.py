"""Structured logs with a request id; the access log never records query strings or bodies.

Query strings carry authorization codes, login hints and tokens, so only the path is logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.turn_log import LoopTurnStreamHandler

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("egate.access")

LIBRARY_LOGGERS = ("authlib", "sqlalchemy", "alembic", "httpx", "httpcore", "urllib3", "multipart", "jose")

# FastAPI's OpenTelemetry hooks look for three global providers on every request, in every
# app a request passes through. The gateway exports its metrics for Prometheus (kit.metrics)
# and has no OpenTelemetry, so every app is built with them off.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REQUEST_ID_KEY = "request_id"


class _TimeOncePerSecond(logging.Formatter):
    """``formatTime`` as the standard library's, the date and time of day formatted once per
    second rather than for every line (``localtime`` and ``strftime`` were a fifth of the
    access line's cost)."""

    _formatted: tuple[int, str | None, str] = (-1, None, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        formatted_second, formatted_with, text = self._formatted
        if second != formatted_second or datefmt != formatted_with:
            text = time.strftime(datefmt or self.default_time_format, self.converter(record.created))
            self._formatted = (second, datefmt, text)
        if datefmt or not self.default_msec_format:
            return text
        return self.default_msec_format % (text, record.msecs)


class JSONFormatter(_TimeOncePerSecond):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class TextFormatter(_TimeOncePerSecond):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        base = f"{self.formatTime(record)} {record.levelname:<7} [{request_id_var.get()}] "
        return base + f"{record.name}: {record.getMessage()} {fields}".rstrip()


def configure_logging(level: str, as_json: bool) -> None:
    # Neither formatter prints the caller's file and line, the thread or the process: none
    # is looked up for every record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LoopTurnStreamHandler()
    handler.setFormatter(JSONFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log prints the full URL including the query string: replaced by ours.
    logging.getLogger("uvicorn.access").disabled = True
    # Libraries' INFO and DEBUG lines print tokens, codes, SQL with bound parameters and
    # URLs with query strings: held at WARNING whatever the gateway's own level.
    for library in LIBRARY_LOGGERS:
        logging.getLogger(library).setLevel(max(logging.WARNING, root.level))


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestContextMiddleware` gave this request; None without it (an app
    mounted on its own, as in tests)."""
    request_id = scope.get("state", {}).get(_REQUEST_ID_KEY)
    return request_id if isinstance(request_id, str) else None


class RequestContextMiddleware:
    """Gives every request an id (taken from X-Request-ID when well-formed) and logs it once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})[_REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )
            request_id_var.reset(token)
