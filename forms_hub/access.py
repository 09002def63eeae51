"""Who is calling, declared once per route as an ``Annotated`` dependency (STYLE.md).

- Residents: the hub's own signed session cookie, set after signing in through the
  provider. Cookie-authenticated API calls that change something must come from the hub's
  own origin (the cookie is also SameSite=Lax).
- Department staff: an officer's hub session (``roles`` has ``officer``, with a
  ``department``), or a department back-end's RFC 9068 access token from the provider's
  client_credentials grant: ``aud`` has ``<issuer>/forms``, ``scope`` has
  ``forms:department``, and the ``department`` claim names whose queue it may work.
- Form administration: the gateway's admin token (any department) or a department token
  (its own department's forms only).

A department token revoked before it expires is refused within seconds when the deployment
wires a ``kit.access_tokens.RevocationCheck`` (``install_revocation_check``): egate gives
the provider's, read from the shared database, as it gives the ledger's DisclosureRecorder.
A hub deployed on its own would answer the same question through the provider's
introspection endpoint (RFC 7662).

The session is looked up with the request's unit of work (``kit.web.DbSession``), whose read
transaction then ends at once: a handler must not hold the database while it calls the
provider or waits for an upload (SQLite serialises every transaction, reads included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from starlette.requests import HTTPConnection

from forms_hub.config import Site
from forms_hub.dependencies import Admin, HubSite, Provider, RpKeys
from forms_hub.oidc_client.provider import ProviderClient, ProviderError
from forms_hub.oidc_client.service import SESSION_COOKIE, session_from_cookie
from forms_hub.principals import DepartmentSystem, Officer, Resident, Staff
from kit.access_tokens import AccessTokenVerifier, RevocationCheck
from kit.bearer import (
    INSUFFICIENT_SCOPE,
    INVALID_TOKEN,
    BearerProblem,
    keys_unavailable,
    presented_token,
    verified_claims,
)
from kit.dpop import DpopProofVerifier, Presentation
from kit.problems import Problem
from kit.web import DbSession, Now

DEPARTMENT_SCOPE = "forms:department"
REALM = "forms"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def install_revocation_check(app: FastAPI, check: RevocationCheck | None) -> None:
    app.state.forms_revocation_check = check


async def _revocation_check(connection: HTTPConnection) -> RevocationCheck | None:
    # async: FastAPI runs a sync dependency in a worker thread; this one needs no thread.
    check: RevocationCheck | None = connection.app.state.forms_revocation_check
    return check


Revocation = Annotated[RevocationCheck | None, Depends(_revocation_check)]


def install_dpop(app: FastAPI, verifier: DpopProofVerifier) -> None:
    """How the hub checks the DPoP proofs that come with DPoP-bound tokens (RFC 9449 §7)."""
    app.state.forms_dpop = verifier


async def _dpop(connection: HTTPConnection) -> DpopProofVerifier:
    verifier: DpopProofVerifier = connection.app.state.forms_dpop
    return verifier


Dpop = Annotated[DpopProofVerifier, Depends(_dpop)]


@dataclass(frozen=True)
class SessionPrincipal:
    sub: str
    kind: str
    department: str | None


def session_principal(request: Request, db: DbSession, keys: RpKeys, now: Now) -> SessionPrincipal | None:
    """The hub session the cookie names, if it is live. Remembered for the request, so that
    page rendering (:func:`forms_hub.web.rendering.render`) shows who is signed in."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    state = request.scope.setdefault("state", {})
    if "forms_principal" in state:
        remembered: SessionPrincipal | None = state["forms_principal"]
        return remembered
    row = session_from_cookie(db, keys, cookie, now)
    principal = SessionPrincipal(row.sub, row.kind, row.department) if row else None
    db.commit()  # ends the read transaction (see the module's docstring)
    state["forms_principal"] = principal
    return principal


def remembered_principal(request: Request) -> SessionPrincipal | None:
    """Who :func:`session_principal` found for this request; None when it was not asked."""
    principal: SessionPrincipal | None = request.scope.get("state", {}).get("forms_principal")
    return principal


Visitor = Annotated[SessionPrincipal | None, Depends(session_principal)]


def same_origin(request: Request, site: Site) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-origin request (browsers send Origin on those)
    issuer = urlsplit(site.issuer)
    return origin == f"{issuer.scheme}://{issuer.netloc}"


def _bearer(request: Request, site: Site) -> tuple[str, Presentation] | None:
    """The access token and how it came (Bearer, or DPoP with its proof)."""
    return presented_token(request, site.issuer)


def _insufficient(detail: str) -> BearerProblem:
    return BearerProblem(403, INSUFFICIENT_SCOPE, detail, scope=DEPARTMENT_SCOPE, realm=REALM)


def current_resident(request: Request, principal: Visitor, site: HubSite) -> Resident:
    if principal is None or principal.kind != "resident":
        raise Problem(401, "Unauthorized", "Sign in to the forms hub first (GET /forms/auth/login).")
    if request.method in UNSAFE_METHODS and not same_origin(request, site):
        raise Problem(403, "Forbidden", "Cross-site requests are refused.")
    return Resident(principal.sub)


def department_system(
    provider: ProviderClient,
    site: Site,
    presented: tuple[str, Presentation],
    now: datetime,
    revocation: RevocationCheck | None,
    dpop: DpopProofVerifier | None = None,
) -> DepartmentSystem:
    """A department back-end's RFC 9068 access token for ``<issuer>/forms``, verified by the
    kernel against the JWKS the provider's discovery document names, at the request's time,
    and refused when ``revocation`` says it was revoked; a DPoP-bound one with its proof,
    checked by ``dpop``."""
    try:
        jwks = provider.jwks()
    except ProviderError:
        raise keys_unavailable() from None
    verifier = AccessTokenVerifier(
        issuer=site.issuer,
        audience=site.audience,
        jwks=jwks,
        clock=lambda: now,
        revocation=revocation,
        dpop=dpop,
    )
    token, presentation = presented
    claims = verified_claims(verifier, token, realm=REALM, presentation=presentation)
    department = claims.raw.get("department")
    if DEPARTMENT_SCOPE not in claims.scopes:
        raise _insufficient(f"The token was not issued with scope {DEPARTMENT_SCOPE}.")
    # A token issued for a person (it says when they signed in: auth_time) is never a
    # department system's, whatever its scope or roles: officers work through their session.
    for_person = "auth_time" in claims.raw
    if not isinstance(department, str) or not department or claims.subject != claims.client_id or for_person:
        raise _insufficient("Only a department's client_credentials token is accepted.")
    return DepartmentSystem(client_id=claims.client_id, department=department.upper())


def current_staff(
    request: Request,
    db: DbSession,
    keys: RpKeys,
    provider: Provider,
    site: HubSite,
    now: Now,
    revocation: Revocation,
    dpop: Dpop,
) -> Staff:
    presented = _bearer(request, site)
    if presented:
        return department_system(provider, site, presented, now, revocation, dpop)
    principal = session_principal(request, db, keys, now)
    if principal is None:
        raise BearerProblem(
            401, None, "An officer's session or a department access token is required.", realm=REALM
        )
    if principal.kind != "officer" or not principal.department:
        raise Problem(403, "Forbidden", "Only officers of a department can do this.")
    if request.method in UNSAFE_METHODS and not same_origin(request, site):
        raise Problem(403, "Forbidden", "Cross-site requests are refused.")
    return Officer(principal.sub, principal.department)


@dataclass(frozen=True)
class FormAdmin:
    """``department`` None: the gateway administrator (any department)."""

    department: str | None


def current_form_admin(
    request: Request,
    admin: Admin,
    provider: Provider,
    site: HubSite,
    now: Now,
    revocation: Revocation,
    dpop: Dpop,
) -> FormAdmin:
    presented = _bearer(request, site)
    if presented is None:
        raise BearerProblem(
            401, None, "The admin token or a department access token is required.", realm=REALM
        )
    token = presented[0]
    # An access token is a JWT; anything else is presented as the administrator credential.
    if token.count(".") != 2:
        if admin.matches(request, token):
            return FormAdmin(None)
        raise BearerProblem(401, INVALID_TOKEN, "The token is not valid.", realm=REALM)
    return FormAdmin(department_system(provider, site, presented, now, revocation, dpop).department)


CurrentResident = Annotated[Resident, Depends(current_resident)]
CurrentStaff = Annotated[Staff, Depends(current_staff)]
CurrentFormAdmin = Annotated[FormAdmin, Depends(current_form_admin)]
