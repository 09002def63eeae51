"""Builds the identity provider's FastAPI app: the one place that unpacks the runtime, builds
the provider's objects once, puts them on ``app.state`` (read back through the Annotated
dependencies of identity.dependencies and the features) and includes every router."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from identity.accounts import routes as account_routes
from identity.accounts.dependencies import SignInRequired, sign_in_redirect
from identity.backchannel.delivery import logout_courier_for
from identity.clients import routes as client_routes
from identity.consent_port import ConsentPort
from identity.devices import routes as device_routes
from identity.devices.ciba_ping import CibaPinger, PingSealer
from identity.failure_format import answer_failure, documented_failure
from identity.mailbox import routes as mailbox_routes
from identity.messaging.delivery import Courier, delivery_for
from identity.messaging.models import OutboxMessage
from identity.oidc import routes as oidc_routes
from identity.oidc.provider import OpenIDProvider
from identity.privacy import routes as privacy_routes
from identity.proofing import routes as proofing_routes
from identity.proofing import staff_routes as registration_routes
from identity.proofing.dependencies import SecondFactorRequired, registrar_refused
from identity.proofing.evidence import UPLOAD_ROUTES, EvidenceStore
from identity.proofing.service import NotRegistrar
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from identity.sessions.service import SessionPolicy
from identity.signin import routes as signin_routes
from identity.signing import routes as signing_routes
from identity.signing.dependencies import Signing
from identity.web.forms import build_csrf_guard
from identity.web.rendering import install_web
from kit.bearer import INVALID_TOKEN, oauth_error_response
from kit.metrics import contribute
from kit.observability import NO_OPENTELEMETRY
from kit.openapi import VALIDATION_PROBLEM_CONTENT, document_failures
from kit.outage import install_outage_handlers
from kit.outbox import backlog_readings
from kit.problems import install_problem_handlers
from kit.runtime import Runtime
from kit.web import install_infrastructure

ADMIN_REALM = "admin"


def create_app(runtime: Runtime, consent: ConsentPort) -> FastAPI:
    settings = runtime.settings
    keyring = build_keyring(runtime.master_key, settings.field_key_generation)
    session_policy = SessionPolicy.from_settings(settings)

    app = FastAPI(title="e-Gateway identity provider", version="1", telemetry=NO_OPENTELEMETRY)
    install_infrastructure(app, sessions=runtime.sessions, clock=runtime.clock)
    app.state.settings = settings
    app.state.master_key = runtime.master_key
    app.state.keyring = keyring
    app.state.hasher = hasher_for(settings)
    app.state.session_policy = session_policy
    app.state.consent = consent
    app.state.courier = Courier(runtime.sessions, keyring, delivery_for(settings), runtime.clock)
    app.state.provider = OpenIDProvider(settings, runtime.master_key, keyring, session_policy, consent)
    app.state.evidence_store = EvidenceStore.build(settings.data_dir, runtime.master_key)
    app.state.signing = Signing.build(runtime.master_key, settings.issuer)
    # The routes that take a file (kit.request_guard refuses multipart bodies elsewhere).
    app.state.upload_routes = UPLOAD_ROUTES
    # The hot paths, served by their exact path by whatever mounts this app (egate.app).
    app.state.plain_routers = (signin_routes.router, oidc_routes.router)
    app.state.logout_courier = logout_courier_for(runtime, app.state.provider.keys)
    app.state.ciba_pinger = CibaPinger(
        runtime.sessions, PingSealer(runtime.master_key), settings.outbound_policy, runtime.clock
    )

    # Sign-in first: FastAPI tries the routes in order, and POST /signin is the busiest page
    # (it was matched after some 55 others).
    app.include_router(signin_routes.router)
    app.include_router(oidc_routes.router)
    app.include_router(client_routes.router)
    app.include_router(device_routes.router)
    app.include_router(privacy_routes.router)
    app.include_router(signing_routes.router)
    # The pages: static files and the CSRF refusal page, sign-in, enrolment and account.
    install_web(app, build_csrf_guard(runtime.master_key, settings.issuer))
    app.include_router(account_routes.router)
    app.include_router(proofing_routes.router)
    app.include_router(registration_routes.router)
    # The demo mailbox exists in demo mode on a developer's machine only: elsewhere, a 404.
    app.state.demo_mailbox = mailbox_routes.MAILBOX_PATH if settings.demo_mailbox else None
    if settings.demo_mailbox:
        app.include_router(mailbox_routes.router)
    install_outage_handlers(app, answer_failure)
    # Framework errors (an unparsable body, invalid input, an unknown path) in problem+json,
    # like the provider's own JSON APIs; the OAuth endpoints parse their own requests.
    install_problem_handlers(app)
    document_failures(app, documented_failure, validation_content=VALIDATION_PROBLEM_CONTENT)
    app.state.answer_failure = answer_failure
    contribute(app, lambda db, now: backlog_readings("identity", db, OutboxMessage, now))

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        # Newcomers open the bare address: the account pages sign them in first.
        return RedirectResponse("/account", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        # Browsers ask the root for an icon where a page names none (JSON, files, the APIs).
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.exception_handler(SignInRequired)
    async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request, exc)

    app.add_exception_handler(NotRegistrar, registrar_refused)
    app.add_exception_handler(SecondFactorRequired, registrar_refused)

    @app.exception_handler(client_routes.AdminAuthError)
    async def _admin_auth(request: Request, exc: Exception) -> JSONResponse:
        return oauth_error_response(
            401, INVALID_TOKEN, "administrator credential required", realm=ADMIN_REALM
        )

    return app
