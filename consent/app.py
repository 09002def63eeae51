"""Builds the consent FastAPI app from its routers."""

from __future__ import annotations

from fastapi import FastAPI

from consent.auth import AccessRules, install_access_rules
from consent.config import ConsentConfig, ledger_origin
from consent.grants.routes import router as grants_router
from consent.ledger.dependencies import install_ledger
from consent.ledger.routes import router as ledger_router
from consent.ledger.service import Ledger
from kit.access_tokens import AccessTokenVerifier, HttpJwks, JwksSource, RevocationCheck
from kit.failures import as_problem
from kit.openapi import VALIDATION_PROBLEM_CONTENT, document_failures, problems_everywhere
from kit.outage import install_outage_handlers
from kit.problems import install_problem_handlers
from kit.runtime import Runtime
from kit.web import install_infrastructure

AUDIENCE_SUFFIX = "/consent"


def create_app(
    runtime: Runtime,
    *,
    config: ConsentConfig | None = None,
    jwks: JwksSource | None = None,
    revocation: RevocationCheck | None = None,
) -> FastAPI:
    """``jwks`` defaults to the provider's ``{issuer}/jwks`` over HTTP, cached briefly.
    ``revocation``: how the deployment tells this API that a token was revoked before it
    expired (the composition root wires the provider's); without it a token works until
    it expires.

    The runtime is unpacked here: routes get the session and the time from ``kit.web``,
    the ledger and the access rules from this service's own dependencies."""
    settings = runtime.settings
    config = config or ConsentConfig.from_settings(settings)
    issuer = settings.issuer
    app = FastAPI(title="e-Gateway consent and disclosure ledger", version="1")
    install_infrastructure(app, sessions=runtime.sessions, clock=runtime.clock)
    install_ledger(
        app, Ledger(origin=ledger_origin(issuer), master_key=runtime.master_key, policy=config.checkpoints)
    )
    verifier = AccessTokenVerifier(
        issuer=issuer,
        audience=issuer + AUDIENCE_SUFFIX,
        jwks=jwks or HttpJwks(f"{issuer}/jwks", ttl_seconds=config.jwks_cache_seconds),
        clock=runtime.clock,
        revocation=revocation,
    )
    install_access_rules(
        app,
        AccessRules(
            verifier=verifier,
            resident_client_ids=config.resident_client_ids,
            admin_token=settings.admin_token,
        ),
    )
    # kit.bearer.BearerProblem is a Problem whose response carries the WWW-Authenticate challenge.
    install_problem_handlers(app)
    install_outage_handlers(app, as_problem)
    document_failures(app, problems_everywhere, validation_content=VALIDATION_PROBLEM_CONTENT)
    app.state.answer_failure = as_problem
    app.include_router(ledger_router)
    app.include_router(grants_router)
    return app
