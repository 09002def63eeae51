"""The administrator credential (``EGATE_ADMIN_TOKEN``) is one secret that all three services
accept, so guessing it is counted in one place whichever service is asked.

Defended against: guessing the credential at the consent or forms hub API instead of the
provider's, where failures are counted. A service asks ``matches`` only with a value that
was presented AS the administrator credential (not an access token); the implementation
compares in constant time, counts a failure per source, and raises ``AdminCredentialWaits``
while that source must wait.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from kit.problems import Problem


class AdminCredentialWaits(Problem):
    """RFC 6585 §4: too many failures from this source; retry after the given seconds."""

    def __init__(self, retry_after_seconds: str) -> None:
        super().__init__(429, "Too Many Requests", "Too many failed attempts; retry later.")
        self.retry_after = retry_after_seconds

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["Retry-After"] = self.retry_after
        response.headers["Cache-Control"] = "no-store"
        return response


class AdminCredential(Protocol):
    def matches(self, connection: HTTPConnection, presented: str) -> bool: ...


class UncountedAdminCredential:
    """Compares only: for a service built on its own (tests), where no provider counts."""

    def __init__(self, expected: str | None) -> None:
        self._expected = expected

    def matches(self, connection: HTTPConnection, presented: str) -> bool:
        expected = self._expected
        return bool(expected) and hmac.compare_digest(presented.encode(), (expected or "").encode())
