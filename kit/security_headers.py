"""HTTP Strict Transport Security (RFC 6797) on every response of an https deployment.

Defends against SSL stripping: once a browser has seen the header over https, it goes to this
host (and its subdomains) only over https for a year, so a network attacker cannot downgrade a
later visit to plain http and read or change the session cookie on the way. Browsers ignore
the header over http (RFC 6797 §8.1), and a deployment on plain http (development on
localhost) must not send it, so the issuer's scheme decides.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_HEADER = "strict-transport-security"
ONE_YEAR = 31536000


def hsts_value(max_age: int = ONE_YEAR, include_subdomains: bool = True) -> str:
    return f"max-age={max_age}" + ("; includeSubDomains" if include_subdomains else "")


class StrictTransportSecurityMiddleware:
    """Adds ``Strict-Transport-Security`` to every HTTP response when ``issuer`` is https
    (a response that already carries one keeps its own). Pure ASGI: streamed bodies pass
    through untouched."""

    def __init__(self, app: ASGIApp, *, issuer: str, max_age: int = ONE_YEAR) -> None:
        self.app = app
        self.value = hsts_value(max_age) if issuer.startswith("https://") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.value is None:
            await self.app(scope, receive, send)
            return
        value = self.value

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if HSTS_HEADER not in headers:
                    headers.append(HSTS_HEADER, value)
            await send(message)

        await self.app(scope, receive, send_with_hsts)
