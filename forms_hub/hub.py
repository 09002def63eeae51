"""The forms hub's parts, built once per app (``forms_hub.app.create_app``) and reached by
routes through ``get_hub``; services receive it explicitly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from forms_hub.attachments.storage import AttachmentStorage
from forms_hub.config import FormsConfig
from forms_hub.crypto import Sealer
from forms_hub.oidc_client.provider import ProviderClient
from forms_hub.ports import DisclosureRecorder
from forms_hub.submissions.receipts import ReceiptSigner
from kit.db import session_scope
from kit.runtime import Runtime


@dataclass
class FormsHub:
    runtime: Runtime
    config: FormsConfig
    disclosures: DisclosureRecorder
    provider: ProviderClient
    storage: AttachmentStorage
    sealer: Sealer
    receipts: ReceiptSigner

    @property
    def issuer(self) -> str:
        return self.runtime.settings.issuer

    @property
    def base_url(self) -> str:
        return f"{self.issuer}/forms"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def audience(self) -> str:
        """What the provider puts in ``aud`` of access tokens meant for this hub."""
        return f"{self.issuer}/forms"

    @property
    def master_key(self) -> bytes:
        return self.runtime.master_key

    def now(self) -> datetime:
        return self.runtime.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work of its own (commit on success, rollback on error), for handlers
        that must not hold a transaction while they call the provider."""
        yield from session_scope(self.runtime.sessions)


def get_hub(request: Request) -> FormsHub:
    return request.app.state.hub


def request_id_of(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id") or f"forms-{secrets.token_hex(8)}"


HubDep = Annotated[FormsHub, Depends(get_hub)]


@dataclass(frozen=True)
class Resident:
    sub: str


@dataclass(frozen=True)
class Officer:
    """Staff with the officer role for ``department``, signed in to the hub's pages."""

    sub: str
    department: str

    @property
    def actor_kind(self) -> str:
        return "officer"

    @property
    def actor(self) -> str:
        return self.sub


@dataclass(frozen=True)
class DepartmentSystem:
    """A department's back-end, with a client_credentials access token of scope
    ``forms:department``."""

    client_id: str
    department: str

    @property
    def actor_kind(self) -> str:
        return "department_system"

    @property
    def actor(self) -> str:
        return self.client_id


Staff = Officer | DepartmentSystem
