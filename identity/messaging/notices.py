"""Security notices to an account's owner, queued in the identity outbox (kit.outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from identity.messaging import outbox
from identity.security.keyring import Keyring
from kit.i18n import N_, in_both

GUESSING_SUBJECT = N_("e-Gateway: failed sign-in attempts")


def guessing_notice(db: Session, keyring: Keyring, *, channel: str, recipient: str, now: datetime) -> None:
    """Tell the owner that someone keeps failing to sign in to their account (once per
    window: identity/throttling/service.py). It says what still works for them, so that the
    notice is a warning, not a lockout; it names no address or identifier."""
    body = in_both(
        N_(
            "Someone has repeatedly entered a wrong password for your e-Gateway account. If it was "
            "not you, your account is still safe as long as your password is: you can keep signing "
            "in from a browser you have used before, or with your two-step verification code. "
            "Consider changing your password and turning on two-step verification."
        )
    )
    subject = in_both(GUESSING_SUBJECT, " / ")
    outbox.enqueue(db, keyring, channel=channel, recipient=recipient, subject=subject, body=body, now=now)
