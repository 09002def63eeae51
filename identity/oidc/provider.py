"""One object per app holding the provider's parts: Authlib server, token issuer, claim
release and the consent port. Built once in ``identity.app.create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from identity.claims import is_verified_field, verified_claim_of
from identity.clients.models import Client
from identity.consent_port import ConsentPort
from identity.keys.service import KeyCache
from identity.oidc.adapter import StarletteOAuth2Request
from identity.oidc.authorize import ConsentNeeded, Unmet
from identity.oidc.dpop import ProviderDpop
from identity.oidc.par import AuthorizationRequests
from identity.oidc.release import ClaimRelease
from identity.oidc.request_objects import RequestObjects
from identity.oidc.server import Provider
from identity.oidc.tokens import RefreshSuccessors, TokenIssuer
from identity.security.keyring import Keyring
from identity.sessions.service import SessionPolicy
from identity.tokens.subjects import SubjectIdentifiers
from identity.web import render
from kit.client_address import request_client_address
from kit.settings import Settings
from kit.web import request_unit_of_work


class OpenIDProvider:
    def __init__(
        self,
        settings: Settings,
        master_key: bytes,
        keyring: Keyring,
        session_policy: SessionPolicy,
        consent: ConsentPort,
    ) -> None:
        self.settings = settings
        self.session_policy = session_policy
        self.consent = consent
        self.keys = KeyCache(master_key)
        self.issuer = TokenIssuer(
            settings.issuer, self.keys, SubjectIdentifiers(master_key), RefreshSuccessors(master_key)
        )
        self.release = ClaimRelease(consent, self.issuer, keyring, id_token_ttl=settings.id_token_ttl_seconds)
        self.server = Provider(self.issuer, self.release, settings, master_key, session_policy)
        self.dpop = ProviderDpop(settings, master_key)
        self.requests = AuthorizationRequests(
            settings, RequestObjects(settings.issuer, settings.outbound_policy)
        )

    def consent_page(
        self, request: Request, oauth_req: StarletteOAuth2Request, needed: ConsentNeeded
    ) -> Response:
        client = needed.client
        query = dict(oauth_req.front_channel.items())
        fields = needed.request.fields
        return render(
            request,
            "oidc/consent.html",
            {
                **_client_context(client),
                "purpose_en": needed.request.purpose_en,
                "purpose_zh": needed.request.purpose_zh,
                "fields": [field for field in fields if not is_verified_field(field)],
                # The values a registration officer checked against the identity card.
                "verified_fields": [field for field in fields if is_verified_field(field)],
                "verified_claim_of": verified_claim_of,
                "already_granted": needed.already_granted,
                "per_request": client.require_per_request_consent,
                "authorization_request": urlencode(query),
            },
        )

    def unmet_page(
        self, request: Request, oauth_req: StarletteOAuth2Request, client: Client, unmet: Unmet
    ) -> Response:
        """What the department requires and the resident lacks, how to get it, and the way
        back to the department (identity.oidc.routes.authorize_unmet)."""
        query = urlencode(dict(oauth_req.front_channel.items()))
        return render(
            request,
            "oidc/unmet.html",
            {
                **_client_context(client),
                "kind": unmet.kind,
                "required": unmet.required,
                "achieved": unmet.achieved,
                "app": unmet.app,
                "authorization_request": query,
                "retry": f"/authorize?{query}",
            },
        )


def _client_context(client: Client) -> dict[str, str]:
    return {
        "client_name": client.name,
        "client_name_zh": client.name_zh or client.name,
        "department": client.department,
    }


async def _provider(request: Request) -> OpenIDProvider:  # async: no thread hop
    provider: OpenIDProvider = request.app.state.provider
    return provider


ProviderDep = Annotated[OpenIDProvider, Depends(_provider)]


@dataclass(frozen=True)
class ClientCall:
    """A call by a client's own code (token, introspection, revocation, userinfo): the
    request's unit of work, its time, the provider and the caller's address."""

    db: Session
    now: datetime
    provider: OpenIDProvider
    address: str | None


@asynccontextmanager
async def client_call(request: Request) -> AsyncIterator[ClientCall]:
    """What a route called by a client's code needs, read without FastAPI's dependencies:
    these routes are the hot paths, and take nothing but the request so that
    ``kit.exact_routes`` serves them by their exact path. The unit of work is ``kit.web``'s."""
    state = request.app.state
    provider: OpenIDProvider = state.provider
    address = request_client_address(request, provider.settings.trusted_proxy_networks)
    async with request_unit_of_work(state.sessions) as db:
        yield ClientCall(db=db, now=state.clock(), provider=provider, address=address)
