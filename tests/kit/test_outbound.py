"""kit.outbound: which URLs a client may make us fetch, and where the connection goes."""

from __future__ import annotations

import functools
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kit.access_tokens import HttpJwks, JwksUnavailable
from kit.outbound import DestinationRefused, OutboundPolicy, Unresolvable, is_public, post_callback


def resolver(*addresses: str):
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",  # shared address space (RFC 6598)
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address under test, not a binding
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:8.8.8.8",  # no DNS answer needs the mapped form: refused whatever it carries
        "2002:7f00:0001::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001:db8::1",  # documentation
    ],
)
def test_addresses_that_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://keys.example.gov.hk/jwks",
        "file:///etc/passwd",
        "gopher://keys.example.gov.hk/",
        "https:///jwks",
        "https://user:pw@keys.example.gov.hk/jwks",
        "https://keys.example.gov.hk/jwks#x",
        "https://127.0.0.1/jwks",
        "https://2130706433/jwks",
        "https://0x7f000001/jwks",
        "https://127.1/jwks",
        "https://[::1]/jwks",
        "https://[::ffff:169.254.169.254]/jwks",
        "https://localhost/jwks",
        "https://metadata.google.internal/jwks",
        "https://printer.local/jwks",
        "https://keys.example.gov.hk:99999/jwks",
        "https://" + "a" * 500 + ".example/jwks",
        "",
    ],
)
def test_urls_refused_by_their_form(url):
    policy = OutboundPolicy(resolve=resolver(PUBLIC))
    with pytest.raises(DestinationRefused):
        policy.check_url(url)
    with pytest.raises(DestinationRefused):
        policy.pin(url)
    assert policy.resolve.calls == []  # type: ignore[attr-defined]


def test_a_name_resolving_to_any_private_address_is_refused():
    policy = OutboundPolicy(resolve=resolver(PUBLIC, "10.0.0.5"))
    with pytest.raises(DestinationRefused, match="private"):
        policy.pin("https://keys.example.gov.hk/jwks")


def test_the_connection_goes_to_the_checked_address_with_the_name_for_tls_and_host():
    resolve = resolver(PUBLIC)
    target = OutboundPolicy(resolve=resolve).pin("https://Keys.Example.gov.hk/path/jwks?v=1")
    assert target.url == f"https://{PUBLIC}/path/jwks?v=1"
    assert target.host == "keys.example.gov.hk" and target.tls_name == "keys.example.gov.hk"
    assert target.request_options() == {
        "headers": {"Host": "keys.example.gov.hk"},
        "extensions": {"sni_hostname": "keys.example.gov.hk"},
    }
    assert resolve.calls == [("keys.example.gov.hk", 443)]  # type: ignore[attr-defined]


def test_ports_and_ipv6_addresses_are_kept():
    target = OutboundPolicy(resolve=resolver("2606:4700:4700::1111")).pin("https://keys.example:8443/jwks")
    assert target.url == "https://[2606:4700:4700::1111]:8443/jwks"
    assert target.host == "keys.example:8443"


def test_each_fetch_resolves_again_so_a_rebound_name_is_caught():
    answers = [[PUBLIC], ["127.0.0.1"]]
    policy = OutboundPolicy(resolve=lambda host, port: answers.pop(0))
    policy.pin("https://keys.example.gov.hk/jwks")
    with pytest.raises(DestinationRefused):
        policy.pin("https://keys.example.gov.hk/jwks")


def test_a_name_that_does_not_resolve_is_refused_at_fetch_but_accepted_at_registration():
    policy = OutboundPolicy(resolve=unresolvable)
    with pytest.raises(Unresolvable):
        policy.pin("https://keys.example.gov.hk/jwks")
    policy.check_registered("https://keys.example.gov.hk/jwks")
    with pytest.raises(DestinationRefused):
        OutboundPolicy(resolve=resolver("192.168.1.1")).check_registered("https://keys.example.gov.hk/jwks")


def test_a_resolver_that_hangs_is_given_up_on():
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(5)
        return [PUBLIC]

    policy = OutboundPolicy(resolve=hanging, resolve_timeout_seconds=0.1)
    try:
        with pytest.raises(Unresolvable, match="in time"):
            policy.pin("https://keys.example.gov.hk/jwks")
    finally:
        release.set()


def test_a_test_deployment_may_allow_private_addresses_and_http():
    policy = OutboundPolicy(allow_private=True, resolve=resolver("127.0.0.1"))
    target = policy.pin("http://localhost:8080/jwks")
    assert target.url == "http://127.0.0.1:8080/jwks" and target.tls_name is None
    with pytest.raises(DestinationRefused):
        policy.pin("file:///etc/passwd")


# -- a real TLS connection to a pinned address ------------------------------------------------


def _certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_jwks_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An https server on 127.0.0.1 whose certificate names keys.dept.test; it records the
    Host header of every request."""
    cert_file, key_file = _certificate_for("keys.dept.test", tmp_path)
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            body = json.dumps({"keys": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert_file, hosts
    server.shutdown()
    server.server_close()


def _pinned_jwks(url: str, cert_file: Path) -> HttpJwks:
    trust = ssl.create_default_context(cafile=str(cert_file))
    return HttpJwks(
        url,
        client=httpx.Client(verify=trust, trust_env=False),
        address_policy=OutboundPolicy(allow_private=True, resolve=resolver("127.0.0.1")),
    )


def test_a_pinned_https_fetch_checks_the_certificate_against_the_name(tls_jwks_server):
    port, cert_file, hosts = tls_jwks_server
    assert _pinned_jwks(f"https://keys.dept.test:{port}/jwks", cert_file).keys() == {"keys": []}
    assert hosts == [f"keys.dept.test:{port}"]
    with pytest.raises(JwksUnavailable):  # same address, a name the certificate does not carry
        _pinned_jwks(f"https://other.dept.test:{port}/jwks", cert_file).keys()


def test_a_callback_is_posted_to_the_checked_address_and_its_answer_said_in_words():
    seen: list[httpx.Request] = []

    def department(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if request.url.path == "/logout" else 500)

    http = httpx.Client(transport=httpx.MockTransport(department))
    policy = OutboundPolicy(resolve=resolver(PUBLIC))
    post = functools.partial(post_callback, http, policy, named="the endpoint", accepted=(200, 204))

    assert post("https://rp.example.gov.hk/logout", data={"logout_token": "t"}, bearer="secret") is None
    assert str(seen[0].url) == f"https://{PUBLIC}/logout"
    assert seen[0].headers["host"] == "rp.example.gov.hk"
    assert seen[0].headers["authorization"] == "Bearer secret"
    assert seen[0].extensions["sni_hostname"] == "rp.example.gov.hk"
    assert seen[0].content == b"logout_token=t"
    assert post("https://rp.example.gov.hk/other", json={"a": 1}) == "answered HTTP 500"
    assert json.loads(seen[1].content) == {"a": 1} and "authorization" not in seen[1].headers
    refused = post("https://10.0.0.1/logout", data={})
    assert refused is not None and refused.startswith("the endpoint must not point at a private")
    assert len(seen) == 2
