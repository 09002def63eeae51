"""One object per app holding the provider's parts: Authlib server, token issuer, claim
release and the consent port. Built once in ``identity.app.create_app``."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from identity.consent_port import ConsentPort
from identity.keys.service import KeyCache
from identity.oidc.authorize import ConsentNeeded
from identity.oidc.release import ClaimRelease
from identity.oidc.server import Provider
from identity.oidc.subjects import SubjectIdentifiers
from identity.oidc.tokens import TokenIssuer
from identity.web import render
from kit.runtime import Runtime


class OpenIDProvider:
    def __init__(self, runtime: Runtime, consent: ConsentPort) -> None:
        self.runtime = runtime
        self.consent = consent
        self.keys = KeyCache(runtime.master_key)
        self.issuer = TokenIssuer(runtime.settings.issuer, self.keys, SubjectIdentifiers(runtime.master_key))
        self.release = ClaimRelease(consent, self.issuer)
        self.server = Provider(self.issuer, self.release)

    def consent_page(self, request: Request, oauth_req, needed: ConsentNeeded) -> Response:  # noqa: ANN001
        client = needed.client
        query = {k: v for k, v in oauth_req.payload.data.items()}
        return render(
            request,
            "oidc/consent.html",
            {
                "client_name": client.name,
                "client_name_zh": client.name_zh or client.name,
                "department": client.department,
                "purpose_en": needed.request.purpose_en,
                "purpose_zh": needed.request.purpose_zh,
                "fields": needed.request.fields,
                "already_granted": needed.already_granted,
                "per_request": client.require_per_request_consent,
                "authorization_request": urlencode(query),
            },
        )


def get_provider(request: Request) -> OpenIDProvider:
    return request.app.state.provider
