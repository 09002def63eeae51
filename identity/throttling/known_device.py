"""The "known browser" cookie: proof that this browser signed in to an account before.

OWASP's device cookies ("Slow Down Online Guessing Attacks with Device Cookies"): a browser
that completed a sign-in gets a signed cookie naming the account (by a keyed digest, never
its id) and a random device id. A password typed in such a browser is not held back by the
account's guessing counters, so a stranger who keeps failing against an account cannot lock
its owner out; the device itself has a counter of its own (a stolen cookie is no skeleton
key). One cookie holds the entries of the last few accounts signed in from the browser.

Entry: ``<account tag>.<device id>.<issued, unix seconds>.<HMAC-SHA256>``, entries joined by
``~``. The key is derived from the master secret (``known-device/v1``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kit.sealing import derive_key, keyed_digest

COOKIE = "egate_known_browser"
COOKIE_PATH = "/signin"
LIFETIME = timedelta(days=180)
MAX_ENTRIES = 5
MAX_COOKIE_LENGTH = 1200
_TAG_LENGTH = 24
_MAC_LENGTH = 32


@dataclass(frozen=True)
class KnownDevice:
    device_id: str


@dataclass(frozen=True)
class KnownDevices:
    key: bytes

    @classmethod
    def from_master(cls, master_key: bytes) -> KnownDevices:
        return cls(derive_key(master_key, "known-device/v1"))

    def _tag(self, account_id: str) -> str:
        return keyed_digest(self.key, f"account:{account_id}")[:_TAG_LENGTH]

    def _mac(self, tag: str, device_id: str, issued: int) -> str:
        return keyed_digest(self.key, f"entry:{tag}.{device_id}.{issued}")[:_MAC_LENGTH]

    def recognise(self, cookie: str | None, account_id: str, now: datetime) -> KnownDevice | None:
        """The device id if ``cookie`` holds a genuine, unexpired entry for the account."""
        tag = self._tag(account_id)
        for entry in _entries(cookie):
            parts = entry.split(".")
            if len(parts) != 4 or parts[0] != tag or not parts[2].isdigit():
                continue
            _, device_id, issued, mac = parts
            if not hmac.compare_digest(mac, self._mac(tag, device_id, int(issued))):
                continue
            if now.timestamp() - int(issued) > LIFETIME.total_seconds():
                continue
            return KnownDevice(device_id)
        return None

    def remember(self, cookie: str | None, account_id: str, now: datetime, known: KnownDevice | None) -> str:
        """The cookie's new value after a successful sign-in: this account's entry renewed
        (same device id if it had one) and put first; the oldest entries dropped."""
        tag = self._tag(account_id)
        device_id = known.device_id if known is not None else secrets.token_urlsafe(12)
        issued = int(now.timestamp())
        fresh = f"{tag}.{device_id}.{issued}.{self._mac(tag, device_id, issued)}"
        others = [entry for entry in _entries(cookie) if not entry.startswith(tag + ".")]
        return "~".join([fresh, *others][:MAX_ENTRIES])


def _entries(cookie: str | None) -> list[str]:
    if not cookie or len(cookie) > MAX_COOKIE_LENGTH:
        return []
    return [entry for entry in cookie.split("~") if entry]
