"""Prefill from the resident's identity: the page listing what would be filled, and the start
of the authorization request that asks the provider for those claims."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from forms_hub.definitions.service import document_of
from forms_hub.errors import FormsError
from forms_hub.hub import get_hub
from forms_hub.oidc_client.routes import start_authorization
from forms_hub.oidc_client.service import PURPOSE_PREFILL
from forms_hub.submissions import service as submissions
from forms_hub.submissions.prefill import prefill_claims, prefill_rows
from forms_hub.submissions.views import submission_view
from forms_hub.web.page_helpers import check_csrf, failure_page, sign_in_redirect, signed_in_resident
from forms_hub.web.rendering import redirect, render
from kit.i18n import choose_language

router = APIRouter(include_in_schema=False)


@router.get("/submissions/{submission_id}/prefill")
def prefill_page(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    try:
        with hub.runtime.sessions() as db:
            submission = submissions.get_own(db, resident, submission_id, hub.now())
            doc = document_of(submissions.definition_of(db, submission))
            view = submission_view(db, hub, submission, for_resident=True, with_details=False)
    except FormsError as exc:
        return failure_page(request, exc)
    rows = prefill_rows(doc, choose_language(request))
    return render(request, "prefill.html", {"doc": doc, "submission": view, "rows": rows})


@router.post("/submissions/{submission_id}/prefill")
async def prefill_start(request: Request, submission_id: str) -> Response:
    hub = get_hub(request)
    form = await request.form()
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    check_csrf(request, form)

    def work() -> Response:
        try:
            with hub.runtime.sessions() as db:
                submission = submissions.get_own(db, resident, submission_id, hub.now())
                if submission.status != "draft":
                    return redirect(f"/forms/submissions/{submission.id}")
                claims = prefill_claims(document_of(submissions.definition_of(db, submission)))
        except FormsError as exc:
            return failure_page(request, exc)
        if not claims:
            return redirect(f"/forms/submissions/{submission_id}/edit")
        return start_authorization(
            request,
            hub,
            purpose=PURPOSE_PREFILL,
            return_to=f"/forms/submissions/{submission_id}/edit",
            sub=resident.sub,
            submission_id=submission_id,
            claims=claims,
        )

    return await run_in_threadpool(work)
