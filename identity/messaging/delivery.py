"""Delivery of the identity service's outbox through :mod:`kit.outbox` (console, file or
SMTP, chosen by ``EGATE_MAIL_BACKEND``), each message in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask

from identity.db import unit_of_work
from identity.messaging.models import OutboxMessage
from identity.messaging.outbox import open_message
from identity.security.keyring import Keyring
from kit.outbox import Delivery, deliver_unsent
from kit.outbox import delivery_for as mail_delivery_for
from kit.settings import Settings


def delivery_for(settings: Settings) -> Delivery:
    return mail_delivery_for(settings, settings.data_dir / "outbox")


def deliver_pending(
    sessions: sessionmaker[Session], keyring: Keyring, delivery: Delivery, clock: Callable[[], datetime]
) -> int:
    """Deliver what is waiting, each message in its own transaction; returns how many went.

    A message whose delivery fails stays unsent for the next run (at-least-once delivery),
    and so does everything queued after it.
    """
    sent = 0
    while True:
        with unit_of_work(sessions) as db:
            try:
                went = deliver_unsent(
                    db, OutboxMessage, partial(open_message, keyring), delivery, clock(), limit=1
                )
            except Exception:
                db.rollback()
                return sent
            if not went:
                return sent
        sent += went


@dataclass(frozen=True)
class Courier:
    """What delivering the outbox needs, built once in identity.app.create_app."""

    sessions: sessionmaker[Session]
    keyring: Keyring
    delivery: Delivery
    clock: Callable[[], datetime]

    def deliver_pending(self) -> int:
        return deliver_pending(self.sessions, self.keyring, self.delivery, self.clock)

    def after_response(self) -> BackgroundTask:
        """Deliver queued messages once the response is sent (the request has committed by then)."""
        return BackgroundTask(self.deliver_pending)


async def _courier(request: Request) -> Courier:  # async: no thread hop
    courier: Courier = request.app.state.courier
    return courier


CourierDep = Annotated[Courier, Depends(_courier)]
