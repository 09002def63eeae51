"""The guessing defence for credentials that are not passwords: a client's authentication at
the token, introspection, revocation and CIBA endpoints, and the administrator credential.

Failures count per (network, credential) pair and per network (service.Counters.for_credential):
a stranger failing as a department's client never makes the department wait. Every failure
gets the same answer, whatever went wrong (unknown client, wrong secret, bad assertion), so
that the answers do not tell which client ids exist.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

from sqlalchemy.orm import Session

from identity.throttling import service as throttling
from kit.loop_thread import may_block

INVALID_CLIENT_DESCRIPTION = "Client authentication failed."
ADMIN_CREDENTIAL = "admin"
MAX_CLIENT_ID_LENGTH = 200

Answer = TypeVar("Answer")


def client_credential(client_id: str | None) -> str:
    return f"client:{(client_id or '-')[:MAX_CLIENT_ID_LENGTH]}"


def presented_client_id(headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
    """The client id a request claims (not yet authenticated): HTTP Basic's user name, the
    form's ``client_id``, or the ``sub`` of a ``client_assertion`` (read, not verified)."""
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            user = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(user) or None  # RFC 6749 §2.3.1: form-urlencoded before Basic
    if form.get("client_id"):
        return form["client_id"]
    assertion = form.get("client_assertion", "")
    if assertion.count(".") == 2:
        payload = assertion.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            return None
        subject = claims.get("sub") if isinstance(claims, dict) else None
        return subject if isinstance(subject, str) else None
    return None


def guarded(
    db: Session,
    now: datetime,
    address: str | None,
    credential: str,
    attempt: Callable[[], Answer],
    failed: Callable[[Answer], bool],
    refused: Callable[[datetime], Answer],
) -> Answer:
    """Run ``attempt`` unless its (network, credential) pair must wait (then ``refused``);
    count it if ``failed``, clear the pair's counter after a success that follows failures."""
    counters = throttling.Counters.for_credential(address, credential)
    verdict = throttling.assess(db, counters, now)
    if verdict.wait_until is not None:
        return refused(verdict.wait_until)
    if verdict.pause_seconds:
        db.rollback()  # nothing written yet: hold no database lock while the answer waits
        may_block()  # on the event loop's thread: waits in a worker thread instead
        time.sleep(verdict.pause_seconds)
    answer = attempt()
    if failed(answer):
        throttling.record_failure(db, counters, now)
    elif counters.pair in verdict.counted:
        throttling.clear(db, counters.pair)
    return answer


def retry_after(until: datetime, now: datetime) -> str:
    return str(max(1, int((until - now).total_seconds() + 0.999)))
