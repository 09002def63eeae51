"""The ledger as a route dependency: ``create_app`` installs the deployment's one ``Ledger``
(it caches the unsealed signing key and the frontier hint, so it lives as long as the app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from consent.ledger.service import Ledger


def install_ledger(app: FastAPI, ledger: Ledger) -> None:
    app.state.ledger = ledger


async def _ledger(request: Request) -> Ledger:
    # async: FastAPI runs a sync dependency in a worker thread; this one needs no thread.
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]
