"""Builds the forms_hub FastAPI app from its routers (mounted at /forms by ``egate.app``)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, Response

from forms_hub.attachments import pages as attachment_pages
from forms_hub.attachments import routes as attachment_routes
from forms_hub.attachments.storage import AttachmentStorage, FilesystemStorage
from forms_hub.config import FormsConfig
from forms_hub.crypto import Sealer
from forms_hub.definitions import pages as definition_pages
from forms_hub.definitions import routes as definition_routes
from forms_hub.errors import FormsError
from forms_hub.hub import FormsHub
from forms_hub.licences import pages as licence_pages
from forms_hub.licences import routes as licence_routes
from forms_hub.oidc_client import routes as sign_in_routes
from forms_hub.oidc_client.provider import ProviderClient
from forms_hub.ports import DisclosureRecorder
from forms_hub.submissions import edit_pages, officer_pages, prefill_pages
from forms_hub.submissions import pages as submission_pages
from forms_hub.submissions import routes as submission_routes
from forms_hub.submissions.receipts import ReceiptSigner
from forms_hub.web.rendering import error_page, install_csrf_refusal
from kit.failures import Failure, as_page, as_problem
from kit.outage import install_outage_handlers
from kit.problems import Problem, install_problem_handlers
from kit.request_guard import UploadRoute
from kit.runtime import Runtime

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
# Room for the answers and the multipart framing beside the largest file.
MULTIPART_OVERHEAD_BYTES = 256 * 1024
# The server-rendered pages, one router per feature (the API routers are included above them).
PAGE_ROUTERS = (
    definition_pages.router,
    submission_pages.router,
    edit_pages.router,
    prefill_pages.router,
    attachment_pages.router,
    licence_pages.router,
    officer_pages.router,
)


class UnwiredDisclosures:
    """Refuses every hand-over: a forms hub built without a ledger must not hand data on."""

    def record(self, db, **kwargs):  # noqa: ANN001, ANN003, ANN201
        raise RuntimeError("no DisclosureRecorder was wired into the forms hub")


def build_hub(
    runtime: Runtime,
    disclosures: DisclosureRecorder,
    *,
    config: FormsConfig | None = None,
    http: httpx.Client | None = None,
    storage: AttachmentStorage | None = None,
) -> FormsHub:
    config = config or FormsConfig.from_settings(runtime.settings)
    issuer = runtime.settings.issuer
    return FormsHub(
        runtime=runtime,
        config=config,
        disclosures=disclosures,
        provider=ProviderClient(
            issuer, http or httpx.Client(timeout=config.http_timeout_seconds), config.provider_cache_seconds
        ),
        storage=storage or FilesystemStorage(runtime.settings.data_dir / "forms" / "attachments"),
        sealer=Sealer(runtime.master_key),
        receipts=ReceiptSigner(runtime.master_key, f"{issuer}/forms", config.receipt_key_generation),
    )


def create_app(
    runtime: Runtime,
    disclosures: DisclosureRecorder | None = None,
    *,
    config: FormsConfig | None = None,
    http: httpx.Client | None = None,
    storage: AttachmentStorage | None = None,
) -> FastAPI:
    app = FastAPI(title="e-Gateway forms hub", version="1")
    app.state.runtime = runtime
    app.state.hub = build_hub(
        runtime, disclosures or UnwiredDisclosures(), config=config, http=http, storage=storage
    )
    install_problem_handlers(app)
    install_forms_error_handler(app)
    install_outage_handlers(app, answer_failure)
    app.state.answer_failure = answer_failure
    app.state.upload_routes = upload_routes(app.state.hub.config)
    install_csrf_refusal(app)
    app.include_router(definition_routes.router)
    app.include_router(submission_routes.router)
    app.include_router(attachment_routes.router)
    app.include_router(licence_routes.router)
    app.include_router(submission_routes.department_router)
    app.include_router(definition_routes.admin_router)
    app.include_router(sign_in_routes.router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="forms-static")

    @app.get("/.well-known/jwks.json", tags=["public"])
    def jwks() -> JSONResponse:
        """The hub's receipt-signing keys (ES256), current and previous generations."""
        return JSONResponse(app.state.hub.receipts.jwks(), headers={"Cache-Control": "public, max-age=300"})

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
    ]


def answer_failure(request: Request, failure: Failure) -> Response:
    """Problem+json for the APIs, a readable page for a person."""
    return as_problem(request, failure) if _is_api(request) else as_page(request, failure)


def install_forms_error_handler(app: FastAPI) -> None:
    @app.exception_handler(FormsError)
    async def _forms_error(request: Request, exc: FormsError) -> Response:
        if not _is_api(request):
            return error_page(request, exc.status, exc.detail)
        hub = request.app.state.hub
        problem = Problem(
            exc.status,
            exc.title,
            exc.detail,
            type_=f"{hub.base_url}/problems/{exc.code}",
            code=exc.code,
            **exc.extensions,
        )
        return problem.response(request.url.path)
