"""What any route may ask for, declared once: its unit of work and the time.

A service's ``create_app`` calls ``install_infrastructure`` with the session factory and
the clock it was given; routes then declare ``db: DbSession`` and ``now: Now``. Nothing
below a route reaches for them another way: services and repositories receive the session
and the time as arguments. A route whose work outlives its own unit of work (a streamed
export reading in short transactions of its own) declares ``sessions: Sessions``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker

from kit.worker_threads import in_worker_thread

Clock = Callable[[], datetime]


def install_infrastructure(app: FastAPI, *, sessions: sessionmaker[Session], clock: Clock) -> None:
    app.state.sessions = sessions
    app.state.clock = clock


@asynccontextmanager
async def request_unit_of_work(sessions: sessionmaker[Session]) -> AsyncIterator[Session]:
    """The request's unit of work, like ``kit.db.session_scope``: committed when the route
    finished cleanly, rolled back otherwise; declared with scope="function", so the commit
    happens before the response is sent and nothing acknowledged can be lost to it.

    Async, so that FastAPI does not hop into a worker thread to open the session and again
    to close it: a session touches the database only when used, and the routes that do
    their work in a thread (the token endpoint) commit there. Only a transaction still open
    at the end goes to a thread to be committed or rolled back, never blocking the loop."""
    session = sessions()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await in_worker_thread(_roll_back_and_close, session)
        raise
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        with anyio.CancelScope(shield=True):
            await in_worker_thread(_commit_and_close, session)
    else:
        session.close()


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _roll_back_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def _unit_of_work(request: Request) -> AsyncIterator[Session]:
    async with request_unit_of_work(request.app.state.sessions) as session:
        yield session


async def _now(request: Request) -> datetime:
    # async: FastAPI runs a sync dependency in a worker thread; this one needs no thread.
    clock: Clock = request.app.state.clock
    return clock()


async def _session_factory(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


DbSession = Annotated[Session, Depends(_unit_of_work, scope="function")]
Now = Annotated[datetime, Depends(_now)]
Sessions = Annotated[sessionmaker[Session], Depends(_session_factory)]
