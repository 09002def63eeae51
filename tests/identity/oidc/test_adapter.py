"""The token endpoints' form reader reads a body as Starlette's form parser does."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.datastructures import Headers
from starlette.formparsers import FormParser
from starlette.requests import Request

from identity.oidc.adapter import MAX_PARAMETERS, StarletteOAuth2Request, form_pairs


def _starlette(body: bytes) -> list[tuple[str, object]]:
    async def stream():
        yield body
        yield b""

    async def parse():
        return (await FormParser(Headers({}), stream(), max_fields=MAX_PARAMETERS).parse()).multi_items()

    # In a thread of its own: a browser test before this one on the same worker may have left
    # Playwright's event loop running in this thread, where asyncio.run() is refused.
    with ThreadPoolExecutor(1) as thread:
        return list(thread.submit(asyncio.run, parse()).result())


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&scope=ledger%3Adepartment",
        b"&&a=%C3%A9+x&&b",
        b"=v&n=&x=a=b",
        b"a=1&",
        b"\xe9=\xff%zz",
        b"a;b=c",
        b"",
        b"x=%2B+%26",
    ],
)
def test_the_fields_are_those_starlette_reads(body):
    assert form_pairs(body) == _starlette(body)


def test_too_many_fields_are_left_to_starlette():
    assert form_pairs(b"&".join(b"a=1" for _ in range(MAX_PARAMETERS + 1))) is None


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/introspect", b""),
        ("/authorize", b"response_type=code&client_id=a%20b&state=x%3Fy"),
        ("/token", b"a=1&a=2"),
        ("/odd?#\\path", b"q=%C3%A9"),
        ("/caf\u00e9", b""),
    ],
)
def test_the_request_uri_and_query_are_those_starlettes_url_gives(path, query):
    """The URI Authlib sees is the issuer's with the request's path and query, as
    ``request.url`` has them (built here without it), and the query's parameters are read."""
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("10.0.0.9", 8000),
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"elsewhere.example:81")],
    }
    request = Request(scope)
    issuer = "https://id.example.gov.hk"
    oauth_request = StarletteOAuth2Request(request, None, issuer)
    url = request.url
    assert oauth_request.uri == issuer + url.path + (f"?{url.query}" if url.query else "")
    assert dict(oauth_request.args) == dict(request.query_params)
