"""What the hub's routes may ask for beyond ``kit.web.DbSession`` and ``kit.web.Now``,
declared once: each is built at start-up by ``forms_hub.app.create_app``, kept on
``app.state`` and offered as a small typed dependency. Services never see this module: the
routes hand them what they use as arguments.

The ``*_of`` functions serve the few places that are not routes (page rendering, exception
handlers) and read the same attributes.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from forms_hub.attachments.storage import AttachmentStorage
from forms_hub.config import FormsConfig, Site
from forms_hub.crypto import Sealer
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.provider import ProviderClient
from forms_hub.ports import DisclosureRecorder
from forms_hub.signatures.provider import SigningProvider
from forms_hub.submissions.outbox import Mailer
from forms_hub.submissions.receipts import ReceiptSigner
from kit.admin_credential import AdminCredential
from kit.csrf import CsrfGuard


def install(
    app: FastAPI,
    *,
    config: FormsConfig,
    site: Site,
    admin: AdminCredential,
    provider: ProviderClient,
    storage: AttachmentStorage,
    sealer: Sealer,
    receipts: ReceiptSigner,
    disclosures: DisclosureRecorder,
    keys: RelyingPartyKeys,
    mailer: Mailer,
    csrf: CsrfGuard,
) -> None:
    state = app.state
    state.forms_config = config
    state.forms_site = site
    state.forms_admin = admin
    state.forms_provider = provider
    state.forms_storage = storage
    state.forms_sealer = sealer
    state.forms_receipts = receipts
    state.forms_disclosures = disclosures
    state.forms_keys = keys
    state.forms_mailer = mailer
    state.forms_csrf = csrf


def site_of(connection: HTTPConnection) -> Site:
    site: Site = connection.app.state.forms_site
    return site


def csrf_guard_of(connection: HTTPConnection) -> CsrfGuard:
    guard: CsrfGuard = connection.app.state.forms_csrf
    return guard


# async: FastAPI runs a sync dependency in a worker thread; these need no thread.


async def _config(connection: HTTPConnection) -> FormsConfig:
    config: FormsConfig = connection.app.state.forms_config
    return config


async def _site(connection: HTTPConnection) -> Site:
    return site_of(connection)


async def _admin(connection: HTTPConnection) -> AdminCredential:
    admin: AdminCredential = connection.app.state.forms_admin
    return admin


async def _provider(connection: HTTPConnection) -> ProviderClient:
    provider: ProviderClient = connection.app.state.forms_provider
    return provider


async def _storage(connection: HTTPConnection) -> AttachmentStorage:
    storage: AttachmentStorage = connection.app.state.forms_storage
    return storage


async def _sealer(connection: HTTPConnection) -> Sealer:
    sealer: Sealer = connection.app.state.forms_sealer
    return sealer


async def _receipts(connection: HTTPConnection) -> ReceiptSigner:
    receipts: ReceiptSigner = connection.app.state.forms_receipts
    return receipts


async def _disclosures(connection: HTTPConnection) -> DisclosureRecorder:
    disclosures: DisclosureRecorder = connection.app.state.forms_disclosures
    return disclosures


async def _keys(connection: HTTPConnection) -> RelyingPartyKeys:
    keys: RelyingPartyKeys = connection.app.state.forms_keys
    return keys


async def _signing(connection: HTTPConnection) -> SigningProvider:
    signing: SigningProvider = connection.app.state.forms_signing
    return signing


async def _mailer(connection: HTTPConnection) -> Mailer:
    mailer: Mailer = connection.app.state.forms_mailer
    return mailer


Config = Annotated[FormsConfig, Depends(_config)]
HubSite = Annotated[Site, Depends(_site)]
Admin = Annotated[AdminCredential, Depends(_admin)]
Provider = Annotated[ProviderClient, Depends(_provider)]
Storage = Annotated[AttachmentStorage, Depends(_storage)]
AnswerSealer = Annotated[Sealer, Depends(_sealer)]
Receipts = Annotated[ReceiptSigner, Depends(_receipts)]
Disclosures = Annotated[DisclosureRecorder, Depends(_disclosures)]
RpKeys = Annotated[RelyingPartyKeys, Depends(_keys)]
Outbox = Annotated[Mailer, Depends(_mailer)]
SigningDep = Annotated[SigningProvider, Depends(_signing)]


async def _request_id(connection: HTTPConnection) -> str:
    """The request's id (kit.observability sets it), which ledger entries carry."""
    request_id: str | None = connection.scope.get("state", {}).get("request_id")
    return request_id or f"forms-{secrets.token_hex(8)}"


RequestId = Annotated[str, Depends(_request_id)]
