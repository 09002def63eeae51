"""Email about status changes through :mod:`kit.outbox`: queued in the transaction that made
the change, delivered later by `egate forms outbox` (console, file or SMTP, chosen by
EGATE_MAIL_BACKEND).

Only forms whose definition names a ``notify_email_field`` send email, to the address the
resident gave in that answer; the notification list on the hub's pages is always written.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.i18n import notification_text
from forms_hub.submissions.models import OutboxMessage
from kit import outbox
from kit.i18n import N_, in_both
from kit.outbox import EMAIL, Delivery, Message, deliver_unsent
from kit.outbox import delivery_for as mail_delivery_for
from kit.settings import Settings

SEALER_LABEL = "outbox/v1"


class Mailer:
    """Queues the hub's emails, sealed under the outbox key, each linking to a page of the hub."""

    def __init__(self, master_key: bytes, base_url: str) -> None:
        self.sealer = Sealer(master_key, SEALER_LABEL)
        self.base_url = base_url

    def queue(
        self, db: Session, to: str, kind: str, params: dict[str, Any], path: str, now: datetime
    ) -> None:
        """``path``: the page the email points to, under the hub's base URL."""
        queue_email(db, self.sealer, to, kind, params, f"{self.base_url}{path}", now)


def queue_email(
    db: Session, sealer: Sealer, to: str, kind: str, params: dict[str, Any], link: str, now: datetime
) -> None:
    reference = params.get("reference") or params.get("licence") or ""
    subject = f"{in_both(N_('e-Gateway forms'), ' ')}: {reference}".strip()
    body = (
        f"{notification_text(kind, params, 'en')}\n\n{notification_text(kind, params, 'zh-HK')}\n\n{link}\n"
    )
    message = OutboxMessage(recipient_sealed="", subject=subject[:300], body_sealed="", created_at=now)
    db.add(message)
    db.flush()  # the id is the associated data of the sealed fields
    message.recipient_sealed = sealer.seal(to, f"to:{message.id}")
    message.body_sealed = sealer.seal(body, f"body:{message.id}")


def open_email(sealer: Sealer, row: OutboxMessage) -> Message:
    return Message(
        id=row.id,
        channel=EMAIL,
        recipient=sealer.open(row.recipient_sealed, f"to:{row.id}"),
        subject=row.subject,
        body=sealer.open(row.body_sealed, f"body:{row.id}"),
    )


def delivery_for(settings: Settings) -> Delivery:
    return mail_delivery_for(settings, settings.data_dir / "forms" / "outbox")


def deliver_pending(
    db: Session, master_key: bytes, delivery: Delivery, now: datetime, limit: int = 500
) -> int:
    """Send queued messages (oldest first), each marked sent in the caller's transaction."""
    opener = partial(open_email, Sealer(master_key, SEALER_LABEL))
    return deliver_unsent(db, OutboxMessage, opener, delivery, now, limit=limit)


def purge_sent(db: Session, before: datetime, limit: int) -> int:
    """Housekeeping: messages delivered before ``before``."""
    return outbox.purge_sent(db, OutboxMessage, before, limit)
