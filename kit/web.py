"""What any route may ask for, declared once: its unit of work and the time.

A service's ``create_app`` calls ``install_infrastructure`` with the session factory and
the clock it was given; routes then declare ``db: DbSession`` and ``now: Now``. Nothing
below a route reaches for them another way: services and repositories receive the session
and the time as arguments. A route whose work outlives its own unit of work (a streamed
export reading in short transactions of its own) declares ``sessions: Sessions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker

from kit.db import session_scope

Clock = Callable[[], datetime]


def install_infrastructure(app: FastAPI, *, sessions: sessionmaker[Session], clock: Clock) -> None:
    app.state.sessions = sessions
    app.state.clock = clock


def _unit_of_work(request: Request) -> Iterator[Session]:
    # scope="function" below: the commit happens before the response is sent, so nothing
    # acknowledged to a client can be lost to a failed commit afterwards.
    yield from session_scope(request.app.state.sessions)


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
