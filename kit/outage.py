"""A database that is down or stalled costs a fast 503 with Retry-After, never a hang or a 500.

Two paths lead here. A database that refuses or drops connections raises (connect errors,
pool timeouts, statement timeouts, SQLite's busy lock): ``install_outage_handlers`` turns
those exceptions into the service's own 503. A database that stops answering without an
error (a frozen server keeps TCP and unix sockets open) would hold the request forever,
because a driver waiting on a socket has no deadline of its own: ``DeadlineMiddleware``
answers 503 when a request has not started its response in time and discards whatever the
stuck handler sends later.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.db import DatabaseBusy
from kit.failures import OUTAGE, FailureFormat, as_problem

OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,  # refused, dropped, statement timeout, SQLite busy
    sa_exc.InterfaceError,  # the driver lost its connection
    sa_exc.TimeoutError,  # no pooled connection came free in time
    DatabaseBusy,  # our SQLite write lock did not come free in time
)


def install_outage_handlers(app: FastAPI, answer: FailureFormat = as_problem) -> None:
    async def on_outage(request: Request, _exc: Exception) -> Response:
        return answer(request, OUTAGE)

    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, on_outage)


class DeadlineMiddleware:
    """Answers 503 for a request whose response has not started within ``seconds``.

    The handler is not cancelled (a thread blocked in a driver cannot be); it runs on and
    its late response is dropped. It cannot have acknowledged anything to the client, who
    saw a 503 and may retry (submissions carry idempotency keys).
    """

    def __init__(self, app: ASGIApp, *, seconds: float, answer: FailureFormat) -> None:
        self.app = app
        self.seconds = seconds
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        # Resolved by whichever comes first: the response starting (True), the handler ending
        # (True) or the deadline (False). A future and a timer rather than a second task and
        # asyncio.wait: this runs on every request, and the deadline almost never fires.
        first: asyncio.Future[bool] = loop.create_future()
        answered_by_deadline = False

        def resolve(in_time: bool) -> None:
            if not first.done():
                first.set_result(in_time)

        async def guarded_send(message: Message) -> None:
            if answered_by_deadline:
                return
            if message["type"] == "http.response.start":
                resolve(True)
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        handler.add_done_callback(lambda _: resolve(True))
        timer = loop.call_later(self.seconds, resolve, False)
        try:
            in_time = await first
        finally:
            timer.cancel()
        if not in_time:
            answered_by_deadline = True
            handler.add_done_callback(_consume_late_result)
            await self.answer(Request(scope), OUTAGE)(scope, receive, send)
            return
        await handler  # the response has started (or the handler ended): let it finish


def _consume_late_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it as never retrieved
