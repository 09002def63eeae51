"""The outbox: messages to residents (email, SMS) are written in the same transaction as the
change that caused them, and delivered after the commit, at least once.

Each service keeps its own table and message kinds and seals recipient and body at rest;
this module holds what they share: the :class:`Message` a delivery sees, the
:class:`Delivery` seam (console and file for development, SMTP in production, chosen by
``EGATE_MAIL_BACKEND``) and the claim-and-send step. There is no SMS gateway: with the SMTP
backend, SMS messages go to the file backend.
"""

from __future__ import annotations

import json
import logging
import smtplib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from sqlalchemy import FromClause, func, select
from sqlalchemy.orm import Session

from kit.metrics import Reading
from kit.purge import delete_batch
from kit.settings import Settings

EMAIL = "email"
SMS = "sms"
SMTP_TIMEOUT_SECONDS = 30

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A message opened for delivery; recipient and body are personal data, never log them."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str


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
    """Writes one JSON file per message into ``directory`` (mode 0600, directory 0700)."""

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
        # Created 0600 before any personal data is written into it.
        path.touch(mode=0o600)
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


class SmtpDelivery:
    """``EGATE_SMTP_URL``: ``smtp://user:password@host:587`` (STARTTLS) or ``smtps://...:465``;
    the sender is ``?from=no-reply@example.gov.hk``. Other channels go to ``fallback``."""

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
        client = (
            smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS)
            if secure
            else smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        )
        with client:
            if not secure:
                client.starttls()
            if self.parts.username:
                client.login(unquote(self.parts.username), unquote(self.parts.password or ""))
            client.send_message(email)


def delivery_for(settings: Settings, directory: Path) -> Delivery:
    """The backend ``EGATE_MAIL_BACKEND`` names; ``directory`` is where the file backend writes."""
    file_delivery = FileDelivery(directory)
    if settings.mail_backend == "console":
        return ConsoleDelivery()
    if settings.mail_backend == "smtp" and settings.smtp_url:
        return SmtpDelivery(settings.smtp_url, file_delivery)
    return file_delivery


class OutboxRow(Protocol):
    """What a service's outbox table has in common with every other's: a mapped class with
    an ``id`` and a ``sent_at`` column."""

    __table__: ClassVar[FromClause]
    id: int
    sent_at: datetime | None


Row = TypeVar("Row", bound=OutboxRow)


def claim_unsent(db: Session, table: type[Row], limit: int) -> list[Row]:
    """Unsent messages, oldest first, locked so that two replicas never deliver the same one
    (``SKIP LOCKED``: a replica passes over what another is sending)."""
    columns = table.__table__.c
    query = (
        select(table)
        .where(columns.sent_at.is_(None))
        .order_by(columns.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(query))


def deliver_unsent(
    db: Session,
    table: type[Row],
    open_message: Callable[[Row], Message],
    delivery: Delivery,
    now: datetime,
    *,
    limit: int,
) -> int:
    """Send up to ``limit`` unsent messages and mark them sent in ``db``'s transaction; returns
    how many went. The caller commits; if a send raises, rolling back leaves every claimed
    message unsent for the next run (at-least-once delivery)."""
    rows = claim_unsent(db, table, limit)
    for row in rows:
        try:
            delivery.send(open_message(row))
        except Exception as exc:
            # The error's class only: SMTP errors quote the recipient's address.
            log.error(
                "outbox delivery failed",
                extra={"fields": {"message_id": row.id, "error": type(exc).__name__}},
            )
            raise
        row.sent_at = now
    db.flush()
    return len(rows)


def backlog(db: Session, table: type[Row], now: datetime) -> tuple[int, float]:
    """How many messages wait unsent, and the oldest one's age in seconds (0 when none):
    one count over the unsent rows, which delivery keeps few."""
    columns = table.__table__.c
    count, oldest = db.execute(
        select(func.count(), func.min(columns.created_at)).where(columns.sent_at.is_(None))
    ).one()
    return int(count), max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def backlog_readings(service: str, db: Session, table: type[Row], now: datetime) -> list[Reading]:
    """A service's outbox backlog as kit.metrics readings, labelled with the service."""
    count, age = backlog(db, table, now)
    labels = {"service": service}
    return [
        Reading("outbox_backlog", "Messages waiting in an outbox, by service", count, labels),
        Reading("outbox_oldest_age_seconds", "Age of the oldest message waiting, by service", age, labels),
    ]


def purge_sent(db: Session, table: type[Row], before: datetime, limit: int) -> int:
    """Delete at most ``limit`` messages of ``table`` sent before ``before`` (housekeeping)."""
    mapped: Any = table.__table__
    return delete_batch(db, mapped, mapped.c.sent_at < before, limit)
