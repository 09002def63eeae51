"""Builds the forms_hub FastAPI app from its routers (mounted at /forms by ``egate.app``).

This is where the hub's parts are made, once: ``create_app`` unpacks the kernel's Runtime
(sessions and clock for ``kit.web``, settings, master key) and keeps the rest on
``app.state`` for :mod:`forms_hub.dependencies`.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from forms_hub import dependencies
from forms_hub.access import install_dpop, install_revocation_check
from forms_hub.api import attachments as attachment_api
from forms_hub.api import definitions as definition_api
from forms_hub.api import licences as licence_api
from forms_hub.api import logout as logout_api
from forms_hub.api import submissions as submission_api
from forms_hub.attachments.storage import AttachmentStorage, sealed, storage_for
from forms_hub.config import FormsConfig, Site
from forms_hub.crypto import Sealer
from forms_hub.dependencies import Receipts
from forms_hub.errors import FormsError, IdentityLevelRequired
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.provider import ProviderClient
from forms_hub.pages import attachments as attachment_pages
from forms_hub.pages import definitions as definition_pages
from forms_hub.pages import edit as edit_pages
from forms_hub.pages import licences as licence_pages
from forms_hub.pages import officer as officer_pages
from forms_hub.pages import prefill as prefill_pages
from forms_hub.pages import sign_in as sign_in_pages
from forms_hub.pages import signatures as signature_pages
from forms_hub.pages import submissions as submission_pages
from forms_hub.ports import DisclosureRecorder
from forms_hub.signatures.provider import SigningProvider
from forms_hub.submissions.models import OutboxMessage
from forms_hub.submissions.outbox import Mailer
from forms_hub.submissions.receipts import ReceiptSigner
from forms_hub.web.page_helpers import failure_page
from forms_hub.web.rendering import build_csrf_guard, install_csrf_refusal
from kit.access_tokens import RevocationCheck
from kit.admin_credential import AdminCredential, UncountedAdminCredential
from kit.dpop import ProofReplay, resource_server_verifier
from kit.failures import Failure, as_page, as_problem
from kit.metrics import contribute
from kit.observability import NO_OPENTELEMETRY
from kit.openapi import VALIDATION_PROBLEM_CONTENT, document_failures, problems_everywhere
from kit.outage import install_outage_handlers
from kit.outbox import backlog_readings
from kit.problems import Problem, install_problem_handlers
from kit.request_guard import UploadRoute
from kit.runtime import Runtime
from kit.shared_static import SHARED_STATIC_DIR
from kit.web import install_infrastructure

STATIC_DIR = SHARED_STATIC_DIR
# Room for the answers and the multipart framing beside the largest file.
MULTIPART_OVERHEAD_BYTES = 256 * 1024
# The JSON APIs, then the server-rendered pages, one router per feature.
API_ROUTERS = (
    definition_api.router,
    submission_api.router,
    attachment_api.router,
    licence_api.router,
    submission_api.department_router,
    definition_api.admin_router,
    logout_api.router,
)
PAGE_ROUTERS = (
    sign_in_pages.router,
    definition_pages.router,
    submission_pages.router,
    edit_pages.router,
    prefill_pages.router,
    attachment_pages.router,
    licence_pages.router,
    officer_pages.router,
    signature_pages.router,
)


class UnwiredDisclosures:
    """Refuses every hand-over: a forms hub built without a ledger must not hand data on."""

    def record(self, db: Session, **entry: Any) -> str:
        raise RuntimeError("no DisclosureRecorder was wired into the forms hub")


def create_app(
    runtime: Runtime,
    disclosures: DisclosureRecorder | None = None,
    *,
    config: FormsConfig | None = None,
    http: httpx.Client | None = None,
    storage: AttachmentStorage | None = None,
    revocation: RevocationCheck | None = None,
    admin: AdminCredential | None = None,
    dpop_replay: ProofReplay | None = None,
) -> FastAPI:
    """``revocation``: how the deployment tells the hub that a department's token was
    revoked before it expired (egate wires the provider's); without it a token works until
    it expires. ``dpop_replay``: where DPoP proofs seen are remembered (egate wires a
    durable one; a process-local memory without it)."""
    settings = runtime.settings
    config = config or FormsConfig.from_settings(settings)
    site = Site(settings.issuer)
    master_key = runtime.master_key
    app = FastAPI(title="e-Gateway forms hub", version="1", telemetry=NO_OPENTELEMETRY)
    install_infrastructure(app, sessions=runtime.sessions, clock=runtime.clock)
    dependencies.install(
        app,
        config=config,
        site=site,
        admin=admin or UncountedAdminCredential(settings.admin_token),
        provider=ProviderClient(
            site.issuer,
            http or httpx.Client(timeout=config.http_timeout_seconds),
            config.provider_cache_seconds,
        ),
        storage=sealed(storage or storage_for(settings), master_key),
        sealer=Sealer(master_key),
        receipts=ReceiptSigner(master_key, site.base_url, config.receipt_key_generation),
        disclosures=disclosures or UnwiredDisclosures(),
        keys=RelyingPartyKeys(master_key),
        mailer=Mailer(master_key, site.base_url),
        csrf=build_csrf_guard(master_key, site),
    )
    app.state.forms_signing = SigningProvider(app.state.forms_provider)
    install_revocation_check(app, revocation)
    install_dpop(app, resource_server_verifier(master_key, dpop_replay))
    install_problem_handlers(app)
    install_forms_error_handler(app)
    install_outage_handlers(app, answer_failure)
    document_failures(app, problems_everywhere, validation_content=VALIDATION_PROBLEM_CONTENT)
    app.state.answer_failure = answer_failure
    app.state.upload_routes = upload_routes(config)
    contribute(app, lambda db, now: backlog_readings("forms_hub", db, OutboxMessage, now))
    install_csrf_refusal(app)
    for router in (*API_ROUTERS, *PAGE_ROUTERS):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="forms-static")

    @app.get("/.well-known/jwks.json", tags=["public"])
    def jwks(receipts: Receipts) -> JSONResponse:
        """The hub's receipt-signing keys (ES256), current and previous generations."""
        return JSONResponse(receipts.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return app


def _is_api(request: Request) -> bool:
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.startswith(("/api/", "/.well-known/"))


def upload_routes(config: FormsConfig) -> list[UploadRoute]:
    """The only routes that take multipart bodies (files), relative to the hub's mount."""
    limit = config.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    return [
        UploadRoute("POST", r"/api/forms/[^/]+/submissions", limit),
        UploadRoute("POST", r"/api/submissions/[^/]+/attachments", limit),
        UploadRoute("POST", r"/submissions/[^/]+/edit", limit),
        UploadRoute("POST", r"/receipts/verify-pdf", limit),
    ]


def answer_failure(request: Request, failure: Failure) -> Response:
    """Problem+json for the APIs, a readable page for a person."""
    return as_problem(request, failure) if _is_api(request) else as_page(request, failure)


def install_forms_error_handler(app: FastAPI) -> None:
    @app.exception_handler(FormsError)
    async def _forms_error(request: Request, exc: FormsError) -> Response:
        if not _is_api(request):
            return failure_page(request, exc)
        site = dependencies.site_of(request)
        extensions = dict(exc.extensions)
        if isinstance(exc, IdentityLevelRequired):
            extensions["proofing_url"] = site.identity_proofing_url
        problem = Problem(
            exc.status,
            exc.title,
            exc.detail,
            type_=f"{site.base_url}/problems/{exc.code}",
            code=exc.code,
            **extensions,
        )
        return problem.response(request.url.path)
