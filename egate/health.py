"""Liveness (the process answers) and readiness (the database answers and is migrated)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from kit.migrations import current_revision, head_revision
from kit.runtime import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
def ready(runtime: RuntimeDep) -> JSONResponse:
    try:
        with runtime.sessions() as session:
            revision = current_revision(session.connection())
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    if revision != head_revision():
        return JSONResponse({"status": "unavailable", "database": "not migrated"}, 503)
    return JSONResponse({"status": "ok", "database": "ok", "revision": revision})
