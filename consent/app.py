"""Builds the consent FastAPI app from its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from consent.auth import AccessRules, install_access_rules
from consent.config import ConsentConfig, ledger_origin
from consent.grants.routes import router as grants_router
from consent.ledger import metrics as ledger_metrics
from consent.ledger.dependencies import install_ledger
from consent.ledger.integrity import BackgroundVerification, LedgerIntegrity, can_run_beside
from consent.ledger.routes import inconsistent_problem
from consent.ledger.routes import router as ledger_router
from consent.ledger.sequencer import BackgroundSequencer, Sequencer, SequencerProcess, SequencerSpec
from consent.ledger.service import Ledger, LedgerStateError
from kit.access_tokens import AccessTokenVerifier, HttpJwks, JwksSource, RevocationCheck
from kit.admin_credential import AdminCredential, UncountedAdminCredential
from kit.dpop import ProofReplay, resource_server_verifier
from kit.failures import as_problem
from kit.metrics import contribute
from kit.observability import NO_OPENTELEMETRY
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
    ledger: Ledger | None = None,
    admin: AdminCredential | None = None,
    dpop_replay: ProofReplay | None = None,
) -> FastAPI:
    """``jwks`` defaults to the provider's ``{issuer}/jwks`` over HTTP, cached briefly.
    ``revocation``: how the deployment tells this API that a token was revoked before it
    expired (the composition root wires the provider's); without it a token works until
    it expires. ``ledger`` is the deployment's one ledger when something else (the consent
    port) appends to it too, so that both share one integrity state; by default the app
    builds it. ``dpop_replay``: where DPoP proofs seen are remembered (the deployment wires
    a durable one; a process-local memory without it).

    The runtime is unpacked here: routes get the session and the time from ``kit.web``,
    the ledger and the access rules from this service's own dependencies. The lifespan
    checks the ledger's integrity before the app serves, keeps verifying it meanwhile, and
    runs the ledger's sequencer (a standby while another process holds its lease); a
    composition root mounting this app must enter it: Starlette runs only its own."""
    settings = runtime.settings
    config = config or ConsentConfig.from_settings(settings)
    issuer = settings.issuer
    if ledger is None:
        ledger = Ledger(
            origin=ledger_origin(issuer),
            master_key=runtime.master_key,
            policy=config.checkpoints,
            integrity=LedgerIntegrity(config.integrity),
        )
    sequencer = Sequencer(ledger, runtime.sessions, config.sequencer, clock=runtime.clock)
    app = FastAPI(
        title="e-Gateway consent and disclosure ledger",
        version="1",
        telemetry=NO_OPENTELEMETRY,
        lifespan=ledger_lifespan(
            ledger.integrity, runtime.sessions, sequencer if config.sequencer.enabled else None
        ),
    )
    app.state.sequencer = sequencer
    install_infrastructure(app, sessions=runtime.sessions, clock=runtime.clock)
    install_ledger(app, ledger)
    verifier = AccessTokenVerifier(
        issuer=issuer,
        audience=issuer + AUDIENCE_SUFFIX,
        jwks=jwks or HttpJwks(f"{issuer}/jwks", ttl_seconds=config.jwks_cache_seconds),
        clock=runtime.clock,
        revocation=revocation,
        dpop=resource_server_verifier(runtime.master_key, dpop_replay),
    )
    install_access_rules(
        app,
        AccessRules(
            verifier=verifier,
            resident_client_ids=config.resident_client_ids,
            admin=admin or UncountedAdminCredential(settings.admin_token),
        ),
    )
    # kit.bearer.BearerProblem is a Problem whose response carries the WWW-Authenticate challenge.
    install_problem_handlers(app)
    install_outage_handlers(app, as_problem)
    document_failures(app, problems_everywhere, validation_content=VALIDATION_PROBLEM_CONTENT)

    @app.exception_handler(LedgerStateError)
    async def _inconsistent(request: Request, error: Exception) -> Response:
        assert isinstance(error, LedgerStateError)
        return inconsistent_problem(error).response(request.url.path)

    app.state.answer_failure = as_problem
    contribute(app, ledger_metrics.readings)
    app.include_router(ledger_router)
    app.include_router(grants_router)
    return app


def ledger_lifespan(
    integrity: LedgerIntegrity, sessions: sessionmaker[Session], sequencer: Sequencer | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up: the head check (cheap: from the latest checkpoint), so a tampered database
    is reported before the first request; then the background verification, if enabled,
    and the sequencer, if given, each where the sessions can be opened from another thread."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(integrity.verify_head, sessions)
        background = None
        sequencing = None
        if integrity.policy.background and can_run_beside(sessions):
            background = BackgroundVerification(integrity, sessions)
            background.start()
        if sequencer is not None and can_run_beside(sessions):
            sequencing = BackgroundSequencer(sequencer)
            sequencing.start()
        try:
            yield
        finally:
            if sequencing is not None:
                await anyio.to_thread.run_sync(sequencing.stop)
            if background is not None:
                await anyio.to_thread.run_sync(background.stop)

    return lifespan


def sequencer_process(runtime: Runtime) -> SequencerProcess | None:
    """The ledger's sequencer as a server runs it on PostgreSQL: a supervised process of its
    own (consent.ledger.sequencer.SequencerProcess), not yet started; the server then builds
    its app with ``consent_sequencer_enabled`` off. None where the app's own thread runs it:
    SQLite (one process; a second would meet the write lock only through SQLite's sleeping
    busy handler), or no sequencer configured."""
    settings = runtime.settings
    config = ConsentConfig.from_settings(settings)
    url = settings.effective_database_url
    if not config.sequencer.enabled or not url.startswith("postgresql"):
        return None
    spec = SequencerSpec(
        database_url=url,
        origin=ledger_origin(settings.issuer),
        master_key=runtime.master_key,
        config=config,
        timeouts=settings.database_timeouts,
    )
    return SequencerProcess(spec)
