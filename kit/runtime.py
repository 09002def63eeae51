"""What every service is built from: settings, the database, the master secret, the clock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from kit.db import create_db_engine, create_session_factory, utcnow
from kit.keys import load_master_key
from kit.settings import Settings
from kit.web import request_unit_of_work


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    master_key: bytes = field(repr=False)
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        # Owner-only from the start: the directory holds the database, keys and attachments.
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        master_key = load_master_key(settings)
        create_private_sqlite_file(settings.effective_database_url)
        engine = create_db_engine(
            settings.effective_database_url,
            settings.database_timeouts,
            reads_first=settings.reads_first,
        )
        return cls(settings, engine, create_session_factory(engine), master_key)


def create_private_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only (0600) before SQLite does (it would use the
    umask, typically 0644). SQLite gives its -wal and -shm files the database file's mode."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a sync dependency in a worker thread; this one needs no thread.
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _db_session(request: Request) -> AsyncIterator[Session]:
    async with request_unit_of_work(request.app.state.runtime.sessions) as session:
        yield session


# Being replaced by kit.web.DbSession (services stop reaching into the runtime).
DbSession = Annotated[Session, Depends(_db_session, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
