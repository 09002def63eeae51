"""Everything the identity app needs for its pages, in one call from identity/app.py."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from identity.accounts import routes as account_routes
from identity.sessions import routes as session_routes
from identity.sessions.dependencies import SignInRequired, sign_in_redirect
from identity.web.rendering import install_web


def install_pages(app: FastAPI) -> None:
    """Static files, the CSRF refusal page, sign-in redirects, and the page routers."""
    install_web(app)

    @app.exception_handler(SignInRequired)
    async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request, exc)

    app.include_router(session_routes.router)
    app.include_router(account_routes.router)
