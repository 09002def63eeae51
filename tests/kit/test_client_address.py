import pytest

from kit.client_address import TrustedProxies, client_address, forwarded_hops, network_of

PROXIES = TrustedProxies.parse("10.0.0.0/8, 192.0.2.10, fd00::/8")


def xff(value: str) -> list[tuple[str, str]]:
    return [("X-Forwarded-For", value)]


def test_without_trusted_proxies_the_headers_are_ignored():
    none = TrustedProxies.parse(None)
    assert client_address("203.0.113.5", xff("198.51.100.1"), none) == "203.0.113.5"
    assert client_address("10.0.0.1", [("Forwarded", "for=198.51.100.1")], none) == "10.0.0.1"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_sends():
    assert client_address("203.0.113.5", xff("198.51.100.1"), PROXIES) == "203.0.113.5"


def test_the_rightmost_untrusted_hop_wins():
    # The client typed "1.2.3.4" itself; our proxies appended the rest.
    assert client_address("10.0.0.1", xff("1.2.3.4, 198.51.100.7, 10.1.1.1"), PROXIES) == "198.51.100.7"
    assert client_address("192.0.2.10", xff("198.51.100.7"), PROXIES) == "198.51.100.7"


def test_several_header_lines_are_one_chain():
    headers = [("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "198.51.100.7")]
    assert client_address("10.0.0.1", headers, PROXIES) == "198.51.100.7"


def test_forwarded_of_rfc_7239_is_read_with_ports_brackets_and_quotes():
    headers = [("Forwarded", 'for=1.2.3.4;proto=https, for="[2001:db8::7]:4711";by=10.0.0.1')]
    assert forwarded_hops(headers) == ["1.2.3.4", "2001:db8::7"]
    assert client_address("10.0.0.1", headers, PROXIES) == "2001:db8::7"
    assert client_address("10.0.0.1", [("Forwarded", 'for="198.51.100.7:80"')], PROXIES) == "198.51.100.7"


def test_a_hop_that_is_no_address_stops_at_the_proxy_that_reported_it():
    assert client_address("10.0.0.1", xff("198.51.100.7, unknown"), PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.1", [("Forwarded", "for=_hidden")], PROXIES) == "10.0.0.1"


def test_only_proxies_in_the_chain_gives_the_leftmost():
    assert client_address("10.0.0.1", xff("10.2.2.2, 10.1.1.1"), PROXIES) == "10.2.2.2"
    assert client_address("10.0.0.1", [], PROXIES) == "10.0.0.1"


def test_ipv4_mapped_ipv6_is_the_ipv4_address():
    assert client_address("::ffff:203.0.113.5", [], PROXIES) == "203.0.113.5"


def test_networks_are_the_ipv4_24_and_the_ipv6_64():
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2:3::1") == "2001:db8:1:2::/64"
    assert network_of("testclient") == "host:testclient"
    assert network_of(None) is None


def test_a_bad_proxy_entry_is_named():
    with pytest.raises(ValueError, match="'not-an-ip'"):
        TrustedProxies.parse("10.0.0.1, not-an-ip")
