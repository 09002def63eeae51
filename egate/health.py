"""Liveness (the process answers) and readiness (the database answers, in time, migrated,
and the disclosure ledger passed its integrity check)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from consent.ledger.integrity import LedgerIntegrity
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
async def ready(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """``ledger`` is ``ok`` or ``inconsistent: <reason>`` (``unchecked`` only while the
    database never answered the check); anything but ``ok`` is not ready."""
    integrity: LedgerIntegrity | None = getattr(request.app.state, "ledger_integrity", None)
    revision: str | None = None
    ledger: str | None = None
    deadline = min(READINESS_DEADLINE_SECONDS, runtime.settings.request_deadline_seconds / 2)
    with anyio.move_on_after(deadline):
        try:
            revision, ledger = await anyio.to_thread.run_sync(
                _database_state, runtime, integrity, limiter=_readiness_threads, abandon_on_cancel=True
            )
        except (SQLAlchemyError, DatabaseBusy):
            return _unavailable("unreachable")
        if revision != head_revision():
            return _unavailable("not migrated")
        if ledger is not None and ledger != "ok":
            return _unavailable("ok", ledger=ledger)
        body: dict[str, Any] = {"status": "ok", "database": "ok", "revision": revision}
        if ledger is not None:
            body["ledger"] = ledger
        return JSONResponse(body)
    return _unavailable("not answering")


def _database_state(runtime: Runtime, integrity: LedgerIntegrity | None) -> tuple[str | None, str | None]:
    """The schema revision and, once it is the latest, the ledger's integrity: checked here
    if nothing has checked it yet (the background verification keeps it current)."""
    with runtime.sessions() as session:
        revision = current_revision(session.connection())
    if integrity is None:
        return revision, None
    status = integrity.status()
    if status.state == "unchecked" and revision == head_revision():
        status = integrity.verify_head(runtime.sessions)
    return revision, status.readiness


def _unavailable(database: str, **details: str) -> JSONResponse:
    body = {"status": "unavailable", "database": database, **details}
    return JSONResponse(body, 503, headers={"Retry-After": "5"})
