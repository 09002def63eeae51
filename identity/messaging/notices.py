"""Security notices to an account's owner, queued in the identity outbox (kit.outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from identity.messaging import outbox
from identity.security.keyring import Keyring

GUESSING_SUBJECT = "e-Gateway: failed sign-in attempts / 登入失敗"


def guessing_notice(db: Session, keyring: Keyring, *, channel: str, recipient: str, now: datetime) -> None:
    """Tell the owner that someone keeps failing to sign in to their account (once per
    window: identity/throttling/service.py). It says what still works for them, so that the
    notice is a warning, not a lockout; it names no address or identifier."""
    body = (
        "Someone has repeatedly entered a wrong password for your e-Gateway account. If it was "
        "not you, your account is still safe as long as your password is: you can keep signing "
        "in from a browser you have used before, or with your two-step verification code. "
        "Consider changing your password and turning on two-step verification.\n"
        "有人多次以錯誤密碼嘗試登入你的 e-Gateway 帳戶。如非你本人，只要密碼未外洩，你的帳戶仍然安全："
        "你可繼續在曾使用的瀏覽器或以雙重認證碼登入。建議你更改密碼並啟用雙重認證。"
    )
    outbox.enqueue(
        db, keyring, channel=channel, recipient=recipient, subject=GUESSING_SUBJECT, body=body, now=now
    )
