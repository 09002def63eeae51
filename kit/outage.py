"""A database that is down or stalled costs a fast 503 with Retry-After, never a hang or a 500.

Two paths lead here. A database that refuses or drops connections raises (connect errors,
pool timeouts, statement timeouts, SQLite's busy lock): ``install_outage_handlers`` turns
those exceptions into the service's own 503. A database that stops answering without an
error (a frozen server keeps TCP and unix sockets open) would hold the request forever,
because a driver waiting on a socket has no deadline of its own: ``DeadlineMiddleware``
answers 503 when a request has not started its response in time and discards whatever the
stuck handler sends later.

Each service renders the 503 in its own protocol's format (problem+json, an OAuth error,
a readable page); the renderer is passed in, so nothing here knows a service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.db import DatabaseBusy
from kit.problems import Problem

RETRY_AFTER_SECONDS = 5
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # refused, dropped, statement timeout, SQLite busy
    sa_exc.InterfaceError,  # the driver lost its connection
    sa_exc.TimeoutError,  # no pooled connection came free in time
    DatabaseBusy,  # our SQLite write lock did not come free in time
)

OutageRenderer = Callable[[Request], Response]


def outage_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def outage_problem(request: Request) -> Response:
    """The RFC 9457 form, for every JSON API that has no protocol format of its own."""
    response = Problem(
        503, "Service unavailable", "The service cannot reach its database; try again shortly."
    ).response(request.url.path)
    response.headers.update(outage_headers())
    return response


def install_outage_handlers(app: FastAPI, render: OutageRenderer = outage_problem) -> None:
    async def on_outage(request: Request, _exc: Exception) -> Response:
        return render(request)

    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, on_outage)


class DeadlineMiddleware:
    """Answers 503 for a request whose response has not started within ``seconds``.

    The handler is not cancelled (a thread blocked in a driver cannot be); it runs on and
    its late response is dropped. It cannot have acknowledged anything to the client, who
    saw a 503 and may retry (submissions carry idempotency keys).
    """

    def __init__(self, app: ASGIApp, *, seconds: float, render: OutageRenderer) -> None:
        self.app = app
        self.seconds = seconds
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        answered_by_deadline = False

        async def guarded_send(message: Message) -> None:
            if answered_by_deadline:
                return
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiter = asyncio.ensure_future(started.wait())
        done, _ = await asyncio.wait(
            {handler, waiter}, timeout=self.seconds, return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            answered_by_deadline = True
            waiter.cancel()
            handler.add_done_callback(_consume_late_result)
            await self.render(Request(scope))(scope, receive, send)
            return
        waiter.cancel()
        await handler  # the response has started (or the handler ended): let it finish


def _consume_late_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it as never retrieved


OUTAGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service temporarily unavailable</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem">
<h1>Service temporarily unavailable</h1>
<p>We cannot complete your request just now. Nothing was changed. Please try again in a few
moments.</p>
<h1 lang="zh-HK">服務暫時未能提供</h1>
<p lang="zh-HK">我們暫時未能處理你的要求，資料沒有任何改動。請稍後再試。</p>
</body></html>
"""


def outage_page(_request: Request) -> Response:
    """For a person in a browser; it needs neither the database nor a template."""
    return Response(OUTAGE_PAGE, 503, headers=outage_headers(), media_type="text/html; charset=utf-8")


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
