"""What the consent app's routes are built from, kept on ``app.state.consent``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from consent.config import ConsentConfig
from consent.ledger.service import Ledger
from kit.access_tokens import AccessTokenVerifier
from kit.runtime import Runtime


@dataclass(frozen=True)
class ConsentServices:
    runtime: Runtime
    config: ConsentConfig
    ledger: Ledger
    verifier: AccessTokenVerifier

    def now(self) -> datetime:
        return self.runtime.clock()


def get_services(request: Request) -> ConsentServices:
    return request.app.state.consent


def request_id(request: Request) -> str | None:
    """The id egate's middleware gave this request, if it runs behind it."""
    return request.scope.get("state", {}).get("request_id")


def as_utc(moment: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Services = Annotated[ConsentServices, Depends(get_services)]
