"""Requests to URLs that someone outside gave us (a department client's ``jwks_uri``, and any
other URL a client registers for us to fetch): the defence against server-side request
forgery (OWASP SSRF Prevention Cheat Sheet; RFC 7591 §5, RFC 9700 §4.15).

Defended against: a registered URL that reaches the gateway's own network (loopback,
private, link-local such as the cloud metadata service at 169.254.169.254, multicast,
reserved, unspecified, and those same addresses spelt as IPv4-mapped, 6to4, Teredo or NAT64
IPv6 addresses), other schemes (``file:``, ``gopher:``), credentials in the URL, and DNS
rebinding: the host is resolved once, EVERY address it resolves to must be public, and the
connection goes to the address that was checked (``PinnedTarget``), with the name kept for
the ``Host`` header and for TLS (SNI and certificate check). Resolution is bounded in time.

URLs of the deployment's own configuration (the issuer the forms hub signs in with) are
trusted and do not come through here. ``allow_private`` is for a test deployment only
(``EGATE_OUTBOUND_ALLOW_PRIVATE``): it lets registered URLs use http and private addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Container, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx

from kit.thread_names import name_os_thread

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], list[str]]

RESOLVE_TIMEOUT_SECONDS = 2.0
MAX_URL_LENGTH = 500
# RFC 6052 §2.1: the well-known NAT64 prefix; its last 32 bits are an IPv4 address.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# Names that resolve to this host or its network whatever DNS says (RFC 6761 §6.3, RFC 6762).
LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")

# getaddrinfo cannot be given a timeout: it runs in these threads and is waited for at most
# RESOLVE_TIMEOUT_SECONDS. A lookup that hangs keeps its thread until the system resolver
# gives up; a few are enough, and a queue behind them times out the same way.
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns", initializer=name_os_thread)


class DestinationRefused(ValueError):
    """The URL may not be fetched; the message says why in words safe to show the caller."""


class Unresolvable(DestinationRefused):
    """The URL's host gave no address (in time)."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, multicast, reserved or
    unspecified, including when an IPv6 address carries such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
    )


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, including the forms ``inet_aton`` accepts
    (``0x7f000001``, ``2130706433``, ``127.1``): resolvers turn those into addresses too."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True)
class PinnedTarget:
    """Where to connect for a checked URL: ``url`` names the checked address, ``host`` goes in
    the ``Host`` header and ``tls_name`` is the name TLS sends (SNI) and checks the
    certificate against (None for plain http)."""

    url: str
    host: str
    tls_name: str | None

    def request_options(self) -> dict[str, object]:
        """The keyword arguments that make httpx connect to ``url`` as if to the name."""
        options: dict[str, object] = {"headers": {"Host": self.host}}
        if self.tls_name is not None:
            options["extensions"] = {"sni_hostname": self.tls_name}
        return options


@dataclass(frozen=True)
class OutboundPolicy:
    allow_private: bool = False
    resolve: Resolver = system_resolver
    resolve_timeout_seconds: float = RESOLVE_TIMEOUT_SECONDS
    # A development deployment (its issuer is http on loopback): the callbacks a client
    # registers for us to POST to (back-channel logout, CIBA ping) may be http on loopback,
    # where the department's own development server runs. Keys are never fetched so.
    development: bool = False

    def check_url(self, url: str) -> SplitResult:
        """The URL's parts, when its form may be fetched: https (http too in a test
        deployment), a host, no credentials or fragment, and no literal address that is not
        public. Does not resolve the name (``pin`` does)."""
        if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
            raise DestinationRefused("must be an https URL of at most 500 characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            raise DestinationRefused("is not a valid URL") from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise DestinationRefused("must be an absolute https URL")
        if parts.username is not None or parts.password is not None:
            raise DestinationRefused("must not carry credentials")
        if parts.fragment:
            raise DestinationRefused("must not carry a fragment")
        host = parts.hostname
        if not self.allow_private:
            literal = _literal_address(host)
            if literal is not None and not is_public(literal):
                raise DestinationRefused("must not point at a private, loopback or reserved address")
            if host == "localhost" or host.endswith(LOCAL_NAME_SUFFIXES):
                raise DestinationRefused("must not point at this host or its local network")
        return parts

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, each of them allowed; raises
        ``DestinationRefused`` when one is not, or when the name does not resolve in time."""
        future = _lookups.submit(self.resolve, host, port)
        try:
            found = future.result(timeout=self.resolve_timeout_seconds)
        except FutureTimeout:
            future.cancel()
            raise Unresolvable("its host did not resolve in time") from None
        except (OSError, UnicodeError):
            raise Unresolvable("its host does not resolve") from None
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
        if not addresses:
            raise Unresolvable("its host does not resolve")
        if not self.allow_private and not all(is_public(address) for address in addresses):
            raise DestinationRefused("its host resolves to a private, loopback or reserved address")
        return addresses

    def check_registered(self, url: str) -> None:
        """For a client's registration: the form must be allowed, and if the name resolves
        now, to public addresses only. A name that does not resolve yet is accepted (its DNS
        may be set up after registration): every fetch checks again (``pin``)."""
        parts = self.check_url(url)
        with contextlib.suppress(Unresolvable):
            self.addresses(parts.hostname or "", parts.port or _default_port(parts.scheme))

    def pin(self, url: str) -> PinnedTarget:
        """The checked address to connect to for ``url``, at fetch time."""
        parts = self.check_url(url)
        host = parts.hostname or ""
        port = parts.port or _default_port(parts.scheme)
        address = self.addresses(host, port)[0]
        netloc = f"[{address}]" if address.version == 6 else str(address)
        if parts.port is not None:
            netloc += f":{parts.port}"
        pinned = parts._replace(netloc=netloc).geturl()
        host_header = host if parts.port is None else f"{_bracketed(host)}:{parts.port}"
        return PinnedTarget(url=pinned, host=host_header, tls_name=host if parts.scheme == "https" else None)

    def _loopback_in_development(self, url: str) -> bool:
        """In a development deployment, an http URL to a loopback host."""
        if not self.development:
            return False
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        literal = _literal_address(parts.hostname or "")
        loopback = parts.hostname == "localhost" or (literal is not None and literal.is_loopback)
        return parts.scheme == "http" and loopback

    def _loopback_policy(self) -> OutboundPolicy:
        """Addresses checked to be loopback, nothing else: a loopback name that resolves
        elsewhere is refused."""

        def loopback_only(host: str, port: int) -> list[str]:
            found = self.resolve(host, port)
            if not all(ipaddress.ip_address(text.split("%", 1)[0]).is_loopback for text in found):
                raise OSError("a loopback name resolved to another address")
            return found

        return OutboundPolicy(
            allow_private=True, resolve=loopback_only, resolve_timeout_seconds=self.resolve_timeout_seconds
        )

    def check_callback(self, url: str) -> None:
        """For a URL a client registers for us to POST to (``backchannel_logout_uri``, a CIBA
        ``backchannel_client_notification_endpoint``): as ``check_registered``, and in a
        development deployment http on loopback too."""
        if self._loopback_in_development(url):
            self._loopback_policy().check_url(url)
            return
        self.check_registered(url)

    def pin_callback(self, url: str) -> PinnedTarget:
        """The checked address to POST a callback to (``check_callback``'s rule), at send time."""
        if self._loopback_in_development(url):
            return self._loopback_policy().pin(url)
        return self.pin(url)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def guarded_client(timeout_seconds: float) -> httpx.Client:
    """An HTTP client for checked targets: no proxy from the environment (a proxy would make
    the address check meaningless), no redirects, and no connection kept for reuse (a kept
    connection to an address was made with another name's TLS check)."""
    return httpx.Client(
        timeout=timeout_seconds,
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def post_callback(
    http: httpx.Client,
    policy: OutboundPolicy,
    url: str,
    *,
    named: str,
    accepted: Container[int],
    data: Mapping[str, str] | None = None,
    json: Any = None,
    bearer: str | None = None,
) -> str | None:
    """POST to a URL a client registered for us to call back (``pin_callback``: checked again
    now, connected to the checked address), with ``data`` form-encoded or ``json``, and
    ``bearer`` as an ``Authorization: Bearer`` credential; no redirect is followed.

    Returns None when the answer's status is in ``accepted``; otherwise why not, in words safe
    to log (``named`` names the URL to the reader; never the body or the credential)."""
    try:
        target = policy.pin_callback(url)
    except DestinationRefused as exc:
        return f"{named} {exc}"
    headers = {"Host": target.host}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    extensions = {"sni_hostname": target.tls_name} if target.tls_name else {}
    try:
        with http.stream(
            "POST",
            target.url,
            data=data,
            json=json,
            headers=headers,
            extensions=extensions,
            follow_redirects=False,
        ) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return "timed out"
    except httpx.HTTPError as exc:
        return f"could not connect ({type(exc).__name__})"
    return None if status in accepted else f"answered HTTP {status}"
