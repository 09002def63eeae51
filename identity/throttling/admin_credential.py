"""The administrator credential as the consent and forms hub APIs check it: the same
counters as the provider's own admin API (credentials.ADMIN_CREDENTIAL), so a guess counts
wherever it is made (kit/admin_credential.py)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from identity.throttling import credentials
from kit.admin_credential import AdminCredentialWaits
from kit.client_address import request_client_address
from kit.db import session_scope
from kit.settings import Settings


class CountedAdminCredential:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._clock = clock

    def matches(self, connection: HTTPConnection, presented: str) -> bool:
        expected = self._settings.admin_token
        now = self._clock()

        def compare() -> bool:
            return bool(expected) and hmac.compare_digest(presented.encode(), (expected or "").encode())

        def refused(until: datetime) -> bool:
            raise AdminCredentialWaits(credentials.retry_after(until, now))

        address = request_client_address(connection, self._settings.trusted_proxy_networks)
        accepted = False
        for db in session_scope(self._sessions):
            accepted = credentials.guarded(
                db,
                now,
                address,
                credentials.ADMIN_CREDENTIAL,
                compare,
                failed=lambda ok: not ok,
                refused=refused,
            )
        return accepted


def _refused_answer(accepted: bool) -> bool:
    return not accepted
