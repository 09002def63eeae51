"""The one ASGI app: health at the root, then forms_hub, consent, and identity (the issuer)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

import consent.app
import forms_hub.app
import identity.app
from consent.port import LedgerConsentPort, answer_ledger_refusals
from egate import health
from egate.heap import freeze_startup_heap
from egate.maintenance import scheduled
from identity.throttling.admin_credential import CountedAdminCredential
from identity.tokens.dpop_replay import RecordedProofs
from identity.tokens.revocation import IssuedAccessTokens
from kit.access_tokens import CachedRevocationCheck
from kit.exact_routes import ExactRoutesMiddleware, plain_routes
from kit.failures import Failure, FailureFormat
from kit.metrics import MetricsMiddleware, contributed, install_metrics
from kit.observability import NO_OPENTELEMETRY, RequestContextMiddleware, configure_logging
from kit.outage import DeadlineMiddleware
from kit.request_guard import RequestGuardMiddleware, UploadRoute
from kit.runtime import Runtime
from kit.security_headers import StrictTransportSecurityMiddleware
from kit.settings import load_settings

FORMS_PREFIX = "/forms"
CONSENT_PREFIX = "/consent"


class FormsHubDisclosures:
    """forms_hub's DisclosureRecorder on the consent port: a form submission hands the
    resident's answers to a department, recorded in the same transaction."""

    def __init__(self, port: LedgerConsentPort) -> None:
        self.port = port

    def record(self, db: Session, *, resident_sub: str, legal_basis: str, **entry: Any) -> str:
        return self.port.record_disclosure(
            db, resident_id=resident_sub, grant_id=None, legal_basis=legal_basis, **entry
        )


def service_apps(runtime: Runtime) -> dict[str, FastAPI]:
    """Each service's own app, keyed by its name; also what `egate openapi` documents.

    The consent API and the forms hub are resource servers of the same deployment as the
    provider, sharing its database: they learn of a revoked access token from the
    provider's token table, within EGATE_REVOCATION_CACHE_SECONDS."""
    consent_port = LedgerConsentPort(runtime)
    revocation = CachedRevocationCheck(
        IssuedAccessTokens(runtime.sessions), ttl_seconds=runtime.settings.revocation_cache_seconds
    )
    # One administrator credential, one count of the guesses at it, whichever service is asked.
    admin = CountedAdminCredential(runtime.settings, runtime.sessions, runtime.clock)
    # DPoP proofs seen by any service, in the shared database: a replay is refused anywhere.
    dpop_replay = RecordedProofs(runtime.sessions, runtime.clock)
    apps = {
        "identity": identity.app.create_app(runtime, consent_port),
        # One ledger for the port's appends and the consent API: one integrity state.
        "consent": consent.app.create_app(
            runtime, revocation=revocation, ledger=consent_port.ledger, admin=admin, dpop_replay=dpop_replay
        ),
        "forms_hub": forms_hub.app.create_app(
            runtime,
            FormsHubDisclosures(consent_port),
            revocation=revocation,
            admin=admin,
            dpop_replay=dpop_replay,
        ),
    }
    answer_ledger_refusals(apps["identity"])
    answer_ledger_refusals(apps["forms_hub"])
    return apps


def create_app(runtime: Runtime) -> FastAPI:
    apps = service_apps(runtime)

    @asynccontextmanager
    async def lifespan(_root: FastAPI) -> AsyncIterator[None]:
        # Starlette runs the lifespan of the app it serves only, not of those mounted in it.
        async with AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            maintenance = scheduled(runtime)
            if maintenance is not None:
                maintenance.start()
                stack.callback(maintenance.stop)
            yield

    root = FastAPI(
        title="e-Gateway",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    root.state.runtime = runtime
    root.state.ledger_integrity = apps["consent"].state.ledger.integrity
    root.include_router(health.router)
    # Before the mounts: identity's, at the root, would take /metrics otherwise.
    install_metrics(
        root,
        engine=runtime.engine,
        sessions=runtime.sessions,
        clock=runtime.clock,
        token=runtime.settings.metrics_token,
        sources=[source for app in apps.values() for source in contributed(app)],
    )
    root.mount(FORMS_PREFIX, apps["forms_hub"])
    root.mount(CONSENT_PREFIX, apps["consent"])
    # The identity provider sits at the root because the issuer's discovery document must be
    # at <issuer>/.well-known/openid-configuration; mounted last so it only gets the rest.
    root.mount("", apps["identity"])

    def answer_failure(request: Request, failure: Failure) -> Response:
        """Whichever service the path belongs to answers in its own format."""
        path = request.scope.get("path", "")
        for prefix, name in ((FORMS_PREFIX, "forms_hub"), (CONSENT_PREFIX, "consent")):
            if path == prefix or path.startswith(prefix + "/"):
                scoped = Request({**request.scope, "root_path": prefix})
                answer: FailureFormat = apps[name].state.answer_failure
                return answer(scoped, failure)
        answer_identity: FailureFormat = apps["identity"].state.answer_failure
        return answer_identity(request, failure)

    # Innermost: the provider's hot paths skip the routing (kit/exact_routes.py).
    root.add_middleware(
        ExactRoutesMiddleware, table=plain_routes(apps["identity"], apps["identity"].state.plain_routers)
    )
    root.add_middleware(
        DeadlineMiddleware, seconds=runtime.settings.request_deadline_seconds, answer=answer_failure
    )
    uploads = [
        UploadRoute(route.method, re.escape(FORMS_PREFIX) + route.path_pattern, route.max_body_bytes)
        for route in apps["forms_hub"].state.upload_routes
    ]
    uploads += apps["identity"].state.upload_routes  # mounted at the root
    root.add_middleware(
        RequestGuardMiddleware,
        limits=runtime.settings.request_limits,
        uploads=uploads,
        answer=answer_failure,
    )
    root.add_middleware(RequestContextMiddleware)
    root.add_middleware(StrictTransportSecurityMiddleware, issuer=runtime.settings.issuer)
    # Outermost: counts every answer, the guard's and the deadline's refusals included.
    root.add_middleware(MetricsMiddleware)
    return root


def app_from_environment() -> FastAPI:
    """The app factory of `egate serve --workers N`: each worker process reads the settings
    and builds its own runtime (engine, caches), as a single-process serve does."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(Runtime.build(settings))
    freeze_startup_heap()
    return app
