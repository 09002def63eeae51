"""Where the request came from, as every counter keys it (kit/client_address.py), with the
trusted proxies of the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from identity.dependencies import IdentitySettings
from kit.client_address import request_client_address


async def _client_address(request: Request, settings: IdentitySettings) -> str | None:
    return request_client_address(request, settings.trusted_proxy_networks)


ClientAddress = Annotated[str | None, Depends(_client_address)]
