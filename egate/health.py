"""Liveness (the process answers) and readiness (the database answers, in time, migrated)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from kit.db import DatabaseBusy
from kit.migrations import current_revision, head_revision
from kit.runtime import Runtime, RuntimeDep

router = APIRouter(tags=["health"])

# Within half the request deadline, so readiness itself says why rather than the deadline.
READINESS_DEADLINE_SECONDS = 2.0
# Its own threads: a pool of request threads stuck on a frozen database must not keep the
# readiness check from answering that the database is not answering.
_readiness_threads = anyio.CapacityLimiter(4)


@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    revision: str | None = None
    deadline = min(READINESS_DEADLINE_SECONDS, runtime.settings.request_deadline_seconds / 2)
    with anyio.move_on_after(deadline):
        try:
            revision = await anyio.to_thread.run_sync(
                _database_revision, runtime, limiter=_readiness_threads, abandon_on_cancel=True
            )
        except (SQLAlchemyError, DatabaseBusy):
            return _unavailable("unreachable")
        if revision != head_revision():
            return _unavailable("not migrated")
        return JSONResponse({"status": "ok", "database": "ok", "revision": revision})
    return _unavailable("not answering")


def _database_revision(runtime: Runtime) -> str | None:
    with runtime.sessions() as session:
        return current_revision(session.connection())


def _unavailable(database: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "database": database}, 503, headers={"Retry-After": "5"})
