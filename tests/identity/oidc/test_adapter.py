"""The token endpoints' form reader reads a body as Starlette's form parser does."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.datastructures import Headers
from starlette.formparsers import FormParser

from identity.oidc.adapter import MAX_PARAMETERS, form_pairs


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
