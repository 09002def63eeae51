"""Delivery of outbox messages: console and file (development) or SMTP, chosen by
``EGATE_MAIL_BACKEND``. A ``typing.Protocol`` and a factory, as STYLE.md suggests.

There is no SMS gateway: with the SMTP backend, SMS messages go to the file backend.
"""

from __future__ import annotations

import json
import logging
import smtplib
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from starlette.background import BackgroundTask

from identity.messaging.outbox import EMAIL, Message, claim_pending, open_message
from identity.security.keyring import keyring_for
from kit.runtime import Runtime

log = logging.getLogger(__name__)


class Delivery(Protocol):
    def send(self, message: Message) -> None: ...


class ConsoleDelivery:
    """Prints messages to standard error (development only: bodies carry codes)."""

    def send(self, message: Message) -> None:
        print(
            f"--- {message.channel} to {message.recipient}: {message.subject}\n{message.body}\n---",
            file=sys.stderr,
            flush=True,
        )


class FileDelivery:
    """Writes one JSON file per message into ``<data dir>/outbox`` (mode 0600)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Message) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{message.id:08d}-{message.channel}.json"
        payload = {
            "id": message.id,
            "channel": message.channel,
            "to": message.recipient,
            "subject": message.subject,
            "body": message.body,
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


class SmtpDelivery:
    """``EGATE_SMTP_URL``: ``smtp://user:password@host:587`` (STARTTLS) or ``smtps://...:465``;
    the sender is ``?from=no-reply@example.gov.hk``."""

    def __init__(self, url: str, fallback: Delivery) -> None:
        self.parts = urlsplit(url)
        query = dict(p.split("=", 1) for p in self.parts.query.split("&") if "=" in p)
        self.sender = unquote(query.get("from", "no-reply@localhost"))
        self.fallback = fallback

    def send(self, message: Message) -> None:
        if message.channel != EMAIL:
            self.fallback.send(message)
            return
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, message.recipient, message.subject
        email.set_content(message.body)
        host, secure = self.parts.hostname or "localhost", self.parts.scheme == "smtps"
        port = self.parts.port or (465 if secure else 587)
        client = smtplib.SMTP_SSL(host, port, timeout=20) if secure else smtplib.SMTP(host, port, timeout=20)
        with client:
            if not secure:
                client.starttls()
            if self.parts.username:
                client.login(unquote(self.parts.username), unquote(self.parts.password or ""))
            client.send_message(email)


def delivery_for(runtime: Runtime) -> Delivery:
    settings = runtime.settings
    file_delivery = FileDelivery(settings.data_dir / "outbox")
    if settings.mail_backend == "console":
        return ConsoleDelivery()
    if settings.mail_backend == "smtp" and settings.smtp_url:
        return SmtpDelivery(settings.smtp_url, file_delivery)
    return file_delivery


def deliver_pending(runtime: Runtime, delivery: Delivery | None = None) -> int:
    """Deliver what is waiting, each message in its own transaction; returns how many went.

    A message whose delivery fails stays unsent for the next run (at-least-once delivery).
    """
    delivery = delivery or delivery_for(runtime)
    keyring = keyring_for(runtime)
    sent = 0
    while True:
        with runtime.sessions() as db:
            rows = claim_pending(db, limit=1)
            if not rows:
                db.rollback()
                return sent
            row = rows[0]
            try:
                delivery.send(open_message(keyring, row))
            except Exception:  # noqa: BLE001 - one failing message must not stop the others
                log.exception("outbox delivery failed", extra={"fields": {"message_id": row.id}})
                db.rollback()
                return sent
            row.sent_at = runtime.clock()
            db.commit()
            sent += 1


def after_response(runtime: Runtime) -> BackgroundTask:
    """Deliver queued messages once the response is sent (the request has committed by then)."""
    return BackgroundTask(deliver_pending, runtime)
