"""The identity service's outbox table (:mod:`kit.outbox`): codes and notices to residents by
email or SMS, delivered after the commit by :mod:`identity.messaging.delivery`.

Recipient and body are personal data (a body may carry a one-time code), so both are stored
encrypted; the subject is clear text and must never carry a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.messaging.models import OutboxMessage
from identity.security.keyring import Keyring
from kit import outbox
from kit.outbox import EMAIL, SMS, Message

__all__ = ["EMAIL", "SMS", "QueuedMessage", "enqueue", "latest", "open_message", "rotate"]

RECIPIENT_CONTEXT = "outbox.recipient"
BODY_CONTEXT = "outbox.body"


def enqueue(
    db: Session,
    keyring: Keyring,
    *,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    now: datetime,
) -> OutboxMessage:
    message = OutboxMessage(
        channel=channel,
        recipient_encrypted=keyring.fields.encrypt(recipient, context=RECIPIENT_CONTEXT),
        subject=subject[:200],
        body_encrypted=keyring.fields.encrypt(body, context=BODY_CONTEXT),
        created_at=now,
    )
    db.add(message)
    db.flush()
    return message


def open_message(keyring: Keyring, row: OutboxMessage) -> Message:
    return Message(
        id=row.id,
        channel=row.channel,
        recipient=keyring.fields.decrypt(row.recipient_encrypted, context=RECIPIENT_CONTEXT),
        subject=row.subject,
        body=keyring.fields.decrypt(row.body_encrypted, context=BODY_CONTEXT),
    )


@dataclass(frozen=True)
class QueuedMessage:
    """A message of the outbox opened, with when it was queued and sent (None: not yet)."""

    message: Message
    created_at: datetime
    sent_at: datetime | None


def latest(db: Session, keyring: Keyring, limit: int) -> list[QueuedMessage]:
    """The ``limit`` newest messages, sent or not, newest first (the demo mailbox)."""
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit))
    return [QueuedMessage(open_message(keyring, row), row.created_at, row.sent_at) for row in rows]


def rotate(db: Session, keyring: Keyring) -> int:
    """Re-encrypt messages still under an older field key (key rotation)."""
    changed = 0
    for row in db.scalars(select(OutboxMessage)):
        for attribute, context in (
            ("recipient_encrypted", RECIPIENT_CONTEXT),
            ("body_encrypted", BODY_CONTEXT),
        ):
            token = getattr(row, attribute)
            if keyring.fields.needs_reencrypt(token):
                setattr(row, attribute, keyring.fields.reencrypt(token, context))
                changed += 1
    return changed


def purge_sent(db: Session, before: datetime, limit: int) -> int:
    """Housekeeping: messages delivered before ``before``."""
    return outbox.purge_sent(db, OutboxMessage, before, limit)
