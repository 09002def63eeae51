"""Email about status changes: queued in the transaction that made the change, delivered
later by `egate forms outbox` (console, file or SMTP, chosen by EGATE_MAIL_BACKEND).

Only forms whose definition names a ``notify_email_field`` send email, to the address the
resident gave in that answer; the notification list on the hub's pages is always written.
"""

from __future__ import annotations

import json
import smtplib
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.submissions.models import OutboxMessage
from forms_hub.web.i18n import notification_text

SEALER_LABEL = "outbox/v1"


@dataclass(frozen=True)
class Email:
    id: int
    to: str
    subject: str
    body: str


def queue_email(
    db: Session, master_key: bytes, to: str, kind: str, params: dict[str, Any], link: str, now
) -> None:  # noqa: ANN001
    sealer = Sealer(master_key, SEALER_LABEL)
    subject = (
        f"e-Gateway forms 電子通道表格: {params.get('reference') or params.get('licence') or ''}".strip()
    )
    body = (
        f"{notification_text(kind, params, 'en')}\n\n{notification_text(kind, params, 'zh-HK')}\n\n{link}\n"
    )
    message = OutboxMessage(recipient_sealed="", subject=subject[:300], body_sealed="", created_at=now)
    db.add(message)
    db.flush()  # the id is the associated data of the sealed fields
    message.recipient_sealed = sealer.seal(to, f"to:{message.id}")
    message.body_sealed = sealer.seal(body, f"body:{message.id}")


class Delivery(Protocol):
    def send(self, email: Email) -> None: ...


class ConsoleDelivery:
    def send(self, email: Email) -> None:
        print(f"--- email to {email.to}: {email.subject}\n{email.body}---", file=sys.stderr, flush=True)


class FileDelivery:
    """One JSON file per message in ``<data dir>/forms/outbox`` (mode 0600)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, email: Email) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{email.id:08d}.json"
        path.touch(mode=0o600)
        payload = {"id": email.id, "to": email.to, "subject": email.subject, "body": email.body}
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


class SmtpDelivery:
    """``EGATE_SMTP_URL``: smtp://user:password@host:587 (STARTTLS) or smtps://...:465,
    sender in ``?from=``."""

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)
        query = dict(p.split("=", 1) for p in self.parts.query.split("&") if "=" in p)
        self.sender = unquote(query.get("from", "no-reply@localhost"))

    def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, email.to, email.subject
        message.set_content(email.body)
        host, secure = self.parts.hostname or "localhost", self.parts.scheme == "smtps"
        port = self.parts.port or (465 if secure else 587)
        connection = (
            smtplib.SMTP_SSL(host, port, timeout=30) if secure else smtplib.SMTP(host, port, timeout=30)
        )
        with connection as smtp:
            if not secure:
                smtp.starttls()
            if self.parts.username:
                smtp.login(unquote(self.parts.username), unquote(self.parts.password or ""))
            smtp.send_message(message)


def delivery_for(settings: Any) -> Delivery:
    if settings.mail_backend == "smtp" and settings.smtp_url:
        return SmtpDelivery(settings.smtp_url)
    if settings.mail_backend == "console":
        return ConsoleDelivery()
    return FileDelivery(settings.data_dir / "forms" / "outbox")


def deliver_pending(db: Session, master_key: bytes, delivery: Delivery, now, limit: int = 500) -> int:  # noqa: ANN001
    """Send queued messages (oldest first), each marked sent in the caller's transaction."""
    sealer = Sealer(master_key, SEALER_LABEL)
    rows = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        to = sealer.open(row.recipient_sealed, f"to:{row.id}")
        body = sealer.open(row.body_sealed, f"body:{row.id}")
        delivery.send(Email(row.id, to, row.subject, body))
        row.sent_at = now
    db.flush()
    return len(rows)
