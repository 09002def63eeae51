"""The address of the client a request came from, the one every counter and log keys on.

Behind a reverse proxy or load balancer the TCP peer is the proxy, and the client's address
is in the ``Forwarded`` (RFC 7239) or ``X-Forwarded-For`` header the proxy appended. Those
headers are typed by whoever sent the request, so they are believed only when the peer is a
configured trusted proxy (``EGATE_TRUSTED_PROXIES``), and then only as far as the chain of
trusted proxies reaches: the hops are read from the right (the one our own proxy appended)
and the first hop that is not itself a trusted proxy is the client. A client cannot shift
its counters by sending its own header: whatever it puts there lies to the left of the hop
our proxy added.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import HTTPConnection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 7239 §4: for="192.0.2.60", for="[2001:db8::1]:4711", for=_hidden, for=unknown
_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for=("[^"]*"|[^;,\s]*)', re.IGNORECASE)


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose requests may tell us the client's address (default: none)."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> TrustedProxies:
        """``"10.0.0.5, 10.1.0.0/16, fd00::/8"``; raises ValueError naming the bad entry."""
        networks = []
        for entry in (text or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry[:60]!r} is not an IP address or CIDR network") from None
        return cls(tuple(networks))

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPAddress) and any(address in network for network in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


# Cached: every request parses its peer's address, and a server sees the same ones again and
# again (keep-alive connections, the proxy's own address). The results are immutable.
@lru_cache(maxsize=4096)
def parse_ip(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1 (one counter, not two)
    return address


def _forwarded_hop(value: str) -> str:
    """One RFC 7239 node: strip quotes, the IPv6 brackets and any port."""
    node = value.strip().strip('"')
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else ""
    return node.rsplit(":", 1)[0] if node.count(":") == 1 else node


def forwarded_hops(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The client chain the proxies reported, leftmost (furthest) first. ``Forwarded`` wins
    when present: a proxy that writes it says what it means by it."""
    forwarded = [value for name, value in headers if name.lower() == "forwarded"]
    if forwarded:
        return [_forwarded_hop(match.group(1)) for match in _FORWARDED_FOR.finditer(",".join(forwarded))]
    x_forwarded_for = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    return [hop.strip() for hop in ",".join(x_forwarded_for).split(",") if hop.strip()]


def client_address(
    peer: str | None, headers: Iterable[tuple[str, str]], trusted: TrustedProxies
) -> str | None:
    """The client's address: the peer itself unless the peer is a trusted proxy; then the
    rightmost hop of the forwarded chain that is not a trusted proxy. A hop that is not an IP
    address (``unknown``, an obfuscated name, garbage) ends the walk at the last address we
    could trust, the proxy that reported it."""
    current = parse_ip(peer)
    if current is None:
        return peer or None
    if current not in trusted:
        return str(current)
    return _forwarded_client(current, headers, trusted)


def _forwarded_client(current: IPAddress, headers: Iterable[tuple[str, str]], trusted: TrustedProxies) -> str:
    for hop in reversed(forwarded_hops(headers)):
        address = parse_ip(hop)
        if address is None:
            break
        current = address
        if address not in trusted:
            break
    return str(current)


def request_client_address(connection: HTTPConnection, trusted: TrustedProxies) -> str | None:
    """:func:`client_address` of a Starlette request."""
    peer = connection.client.host if connection.client else None
    current = parse_ip(peer)
    if current is None or current not in trusted:  # the headers are not read: not believed
        return client_address(peer, (), trusted)
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in connection.scope["headers"]
    ]
    return _forwarded_client(current, headers, trusted)


@lru_cache(maxsize=4096)
def network_of(address: str | None) -> str | None:
    """The network counters key on: the IPv4 /24 or the IPv6 /64 (one subscriber's prefix),
    so that rotating through neighbouring addresses earns nothing. None when unknown."""
    ip = parse_ip(address)
    if ip is None:
        return f"host:{address[:60]}" if address else None  # a unix socket, a test client
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
