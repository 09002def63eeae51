"""The one ASGI app: health at the root, then forms_hub, consent, and identity (the issuer)."""

from __future__ import annotations

from fastapi import FastAPI

import consent.app
import forms_hub.app
import identity.app
from egate import health
from egate.observability import RequestContextMiddleware
from egate.runtime import Runtime

FORMS_PREFIX = "/forms"
CONSENT_PREFIX = "/consent"


def service_apps(runtime: Runtime) -> dict[str, FastAPI]:
    """Each service's own app, keyed by its name; also what `egate openapi` documents."""
    return {
        "identity": identity.app.create_app(runtime),
        "consent": consent.app.create_app(runtime),
        "forms_hub": forms_hub.app.create_app(runtime),
    }


def create_app(runtime: Runtime) -> FastAPI:
    root = FastAPI(title="e-Gateway", openapi_url=None, docs_url=None, redoc_url=None)
    root.state.runtime = runtime
    root.include_router(health.router)
    apps = service_apps(runtime)
    root.mount(FORMS_PREFIX, apps["forms_hub"])
    root.mount(CONSENT_PREFIX, apps["consent"])
    # The identity provider sits at the root because the issuer's discovery document must be
    # at <issuer>/.well-known/openid-configuration; mounted last so it only gets the rest.
    root.mount("", apps["identity"])
    root.add_middleware(RequestContextMiddleware)
    return root
