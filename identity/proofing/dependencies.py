"""Access rules of the proofing pages, declared once: the registration officer (a signed-in
staff account holding the ``registrar`` role, whose browser session reached the second-factor
level), and the evidence store built in identity.app.

Raising a resident's identity level is what a stolen staff password would be used for, so a
password alone never lets a registrar act (``ACR_MFA``, or the app's ``ACR_DEVICE``, which
meets it). Someone signed out is sent to sign in; a registrar whose session is below the
level and who has a second factor is stepped up (``/signin?acr=…&next=``, which asks only
for the code and comes back here); a registrar with no second factor gets a 403 page that
says how to set one up (never a redirect that could not succeed: no loop); anyone else
signed in gets a 403 page.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from identity.accounts import service as accounts
from identity.accounts.dependencies import CurrentAccount, SignedInAccount
from identity.assurance import ACR_MFA, acr_satisfies
from identity.proofing.evidence import EvidenceStore
from identity.proofing.service import NotRegistrar, is_registrar
from identity.web import render

REGISTRATION_HOME = "/staff/registration"


class SecondFactorRequired(Exception):
    """A registrar whose browser session has not reached ``ACR_MFA``."""

    def __init__(self, next_path: str, has_second_factor: bool) -> None:
        super().__init__("registration work needs a second factor")
        self.next_path = next_path
        self.has_second_factor = has_second_factor


def _back_here(request: Request) -> str:
    """Where the registrar lands after the step-up: this page; a form's POST cannot be
    replayed by a redirect, so after one the registration home."""
    if request.method != "GET":
        return REGISTRATION_HOME
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


def registrar(request: Request, current: CurrentAccount) -> SignedInAccount:
    if not is_registrar(current.account):
        raise NotRegistrar(current.account.id)
    if not acr_satisfies(current.session.acr, ACR_MFA):
        raise SecondFactorRequired(_back_here(request), accounts.has_totp(current.account))
    return current


async def registrar_refused(request: Request, exc: Exception) -> Response:
    """The answer to :class:`NotRegistrar` and :class:`SecondFactorRequired` (installed by
    identity.app)."""
    if isinstance(exc, SecondFactorRequired):
        if exc.has_second_factor:
            # signin.routes.signin_page steps the live session up by its second factor only
            # (flows.step_up_route) and then sends the browser to ``next``.
            step_up = f"/signin?acr={ACR_MFA}&next={quote(exc.next_path, safe='/')}"
            return RedirectResponse(step_up, status_code=303)
        context = {"signed_in": True, "retry": exc.next_path}
        return render(request, "staff/second_factor_needed.html", context, 403)
    context = {"title_code": "registration.forbidden_title", "detail_code": "registration.forbidden"}
    return render(request, "error.html", {"signed_in": True, **context}, 403)


async def _evidence_store(request: Request) -> EvidenceStore:  # async: no thread hop
    store: EvidenceStore = request.app.state.evidence_store
    return store


CurrentRegistrar = Annotated[SignedInAccount, Depends(registrar)]
EvidenceStoreDep = Annotated[EvidenceStore, Depends(_evidence_store)]
