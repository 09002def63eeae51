"""Delivery of the identity service's outbox through :mod:`kit.outbox` (console, file or
SMTP, chosen by ``EGATE_MAIL_BACKEND``), each message in its own transaction."""

from __future__ import annotations

from functools import partial

from starlette.background import BackgroundTask

from identity.accounts.models import OutboxMessage
from identity.messaging.outbox import open_message
from identity.security.keyring import keyring_for
from kit.outbox import Delivery, deliver_unsent
from kit.outbox import delivery_for as mail_delivery_for
from kit.runtime import Runtime


def delivery_for(runtime: Runtime) -> Delivery:
    settings = runtime.settings
    return mail_delivery_for(settings, settings.data_dir / "outbox")


def deliver_pending(runtime: Runtime, delivery: Delivery | None = None) -> int:
    """Deliver what is waiting, each message in its own transaction; returns how many went.

    A message whose delivery fails stays unsent for the next run (at-least-once delivery),
    and so does everything queued after it.
    """
    delivery = delivery or delivery_for(runtime)
    keyring = keyring_for(runtime)
    sent = 0
    while True:
        with runtime.sessions() as db:
            try:
                went = deliver_unsent(
                    db,
                    OutboxMessage,
                    partial(open_message, keyring),
                    delivery,
                    runtime.clock(),
                    limit=1,
                )
            except Exception:  # noqa: BLE001 - logged by kit.outbox; retried on the next run
                db.rollback()
                return sent
            if not went:
                db.rollback()
                return sent
            db.commit()
            sent += went


def after_response(runtime: Runtime) -> BackgroundTask:
    """Deliver queued messages once the response is sent (the request has committed by then)."""
    return BackgroundTask(deliver_pending, runtime)
