"""Builds the identity provider's FastAPI app from its routers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse

from identity.clients import routes as client_routes
from identity.consent_port import ConsentPort
from identity.devices import routes as device_routes
from identity.failure_format import answer_failure
from identity.oidc import routes as oidc_routes
from identity.oidc.provider import OpenIDProvider
from identity.privacy import routes as privacy_routes
from identity.web.pages import install_pages
from kit.outage import install_outage_handlers
from kit.runtime import Runtime


def create_app(runtime: Runtime, consent: ConsentPort) -> FastAPI:
    app = FastAPI(title="e-Gateway identity provider", version="1")
    app.state.runtime = runtime
    app.state.provider = OpenIDProvider(runtime, consent)
    app.include_router(oidc_routes.router)
    app.include_router(client_routes.router)
    app.include_router(device_routes.router)
    app.include_router(privacy_routes.router)
    install_pages(app)  # sign-in, enrolment and account pages, /static
    install_outage_handlers(app, answer_failure)
    app.state.answer_failure = answer_failure

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        # Newcomers open the bare address: the account pages sign them in first.
        return RedirectResponse("/account", status_code=303)

    @app.exception_handler(client_routes.AdminAuthError)
    async def _admin_auth(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_token", "error_description": "administrator credential required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="admin"'},
        )

    return app
