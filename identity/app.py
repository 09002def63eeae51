"""Builds the identity provider's FastAPI app from its routers."""

from __future__ import annotations

from fastapi import FastAPI

from egate.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="e-Gateway identity provider", version="1")
    app.state.runtime = runtime
    return app
