"""What the signing routes ask for, built once by ``identity.app.create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from identity.signing.authority import AuthorityStore
from identity.signing.certificates import Endpoints
from identity.signing.sealed import SigningSeal


@dataclass(frozen=True)
class Signing:
    store: AuthorityStore
    seal: SigningSeal
    endpoints: Endpoints

    @classmethod
    def build(cls, master_key: bytes, issuer: str) -> Signing:
        return cls(AuthorityStore(master_key), SigningSeal(master_key), Endpoints.under(issuer))


async def _signing(request: Request) -> Signing:
    signing: Signing = request.app.state.signing
    return signing


async def _raw_body(request: Request) -> bytes:
    """The body as sent (OCSP and time-stamp requests are DER, not JSON); the request guard
    has already limited its size."""
    return await request.body()


SigningDep = Annotated[Signing, Depends(_signing)]
RawBody = Annotated[bytes, Depends(_raw_body)]
