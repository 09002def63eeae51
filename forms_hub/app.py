"""Builds the forms_hub FastAPI app from its routers."""

from __future__ import annotations

from fastapi import FastAPI

from egate.problems import install_problem_handlers
from egate.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="e-Gateway forms hub", version="1")
    app.state.runtime = runtime
    install_problem_handlers(app)
    return app
