"""kit.outbox: the deliveries, the backend choice, and claim-and-send over a service's table."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from kit.outbox import (
    EMAIL,
    SMS,
    ConsoleDelivery,
    FileDelivery,
    Message,
    SmtpDelivery,
    claim_unsent,
    deliver_unsent,
    delivery_for,
)
from kit.settings import Settings

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class _Base(DeclarativeBase):
    pass


class _Outbox(_Base):
    """A service's outbox table, reduced to what kit.outbox relies on."""

    __tablename__ = "test_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]


def _open(row: _Outbox) -> Message:
    return Message(row.id, EMAIL, row.recipient, "Subject", f"body {row.id}")


class _Recording:
    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[Message] = []
        self.fail_on = fail_on

    def send(self, message: Message) -> None:
        if message.id == self.fail_on:
            raise ConnectionError(f"550 mailbox unavailable: {message.recipient}")
        self.sent.append(message)


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(_Outbox(recipient=f"r{i}@example.hk") for i in range(3))
        session.commit()
        yield session
    engine.dispose()


def test_file_delivery_writes_one_private_json_file_per_message(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    FileDelivery(directory).send(Message(7, SMS, "+85291234567", "Code", "Your code is 123456"))
    [written] = list(directory.iterdir())
    assert written.name == "00000007-sms.json"
    assert json.loads(written.read_text(encoding="utf-8")) == {
        "id": 7,
        "channel": "sms",
        "to": "+85291234567",
        "subject": "Code",
        "body": "Your code is 123456",
    }
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"


def test_console_delivery_prints_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleDelivery().send(Message(1, EMAIL, "a@example.hk", "Hello", "你好"))
    captured = capsys.readouterr()
    assert captured.out == "" and "email to a@example.hk: Hello" in captured.err and "你好" in captured.err


def test_smtp_delivery_hands_sms_to_its_fallback(tmp_path: Path) -> None:
    fallback = _Recording()
    smtp = SmtpDelivery("smtp://user:pw@mail.example:2525?from=no-reply%40gov.hk", fallback)
    assert smtp.sender == "no-reply@gov.hk"
    message = Message(2, SMS, "+85291234567", "Code", "123456")
    smtp.send(message)  # no connection is made for SMS
    assert fallback.sent == [message]


def test_delivery_for_follows_the_mail_backend(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    file_backend = delivery_for(Settings(mail_backend="file"), directory)
    assert isinstance(file_backend, FileDelivery) and file_backend.directory == directory
    assert isinstance(delivery_for(Settings(mail_backend="console"), directory), ConsoleDelivery)
    smtp = delivery_for(Settings(mail_backend="smtp", smtp_url="smtps://mail.example"), directory)
    assert isinstance(smtp, SmtpDelivery) and isinstance(smtp.fallback, FileDelivery)
    # SMTP chosen without a URL: nothing to connect to, so messages stay on disk.
    assert isinstance(delivery_for(Settings(mail_backend="smtp"), directory), FileDelivery)


def test_claim_unsent_takes_the_oldest_unsent_first(db: Session) -> None:
    db.get(_Outbox, 1).sent_at = NOW
    db.flush()
    assert [row.id for row in claim_unsent(db, _Outbox, limit=5)] == [2, 3]
    assert [row.id for row in claim_unsent(db, _Outbox, limit=1)] == [2]


def test_deliver_unsent_sends_and_marks_sent(db: Session) -> None:
    delivery = _Recording()
    assert deliver_unsent(db, _Outbox, _open, delivery, NOW, limit=2) == 2
    assert deliver_unsent(db, _Outbox, _open, delivery, NOW, limit=2) == 1
    assert deliver_unsent(db, _Outbox, _open, delivery, NOW, limit=2) == 0
    assert [m.id for m in delivery.sent] == [1, 2, 3]
    assert [m.body for m in delivery.sent] == ["body 1", "body 2", "body 3"]
    assert all(row.sent_at is not None for row in db.query(_Outbox))


def test_a_failed_send_raises_and_logs_no_recipient(db: Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="kit.outbox")
    with pytest.raises(ConnectionError):
        deliver_unsent(db, _Outbox, _open, _Recording(fail_on=2), NOW, limit=5)
    db.rollback()
    assert [row.id for row in claim_unsent(db, _Outbox, limit=5)] == [1, 2, 3]  # all retried
    [record] = caplog.records
    assert record.fields == {"message_id": 2, "error": "ConnectionError"}
    assert "example.hk" not in caplog.text
