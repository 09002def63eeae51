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

Principals are looked up in a short transaction of their own that is closed before the
handler runs, so a handler may call the provider without holding the database.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import JSONResponse

from forms_hub.hub import DepartmentSystem, FormsHub, Officer, Resident, Staff, get_hub
from forms_hub.oidc_client.provider import InvalidToken, ProviderError
from forms_hub.oidc_client.service import SESSION_COOKIE, session_from_cookie
from kit.problems import Problem

DEPARTMENT_SCOPE = "forms:department"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class BearerProblem(Problem):
    """401/403 with the RFC 6750 §3 challenge."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(status, "Unauthorized" if status == 401 else "Forbidden", detail)
        self.challenge = f'Bearer realm="forms", error="{error}"' if error else 'Bearer realm="forms"'
        if error == "insufficient_scope":
            self.challenge += f', scope="{DEPARTMENT_SCOPE}"'

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["WWW-Authenticate"] = self.challenge
        return response


@dataclass(frozen=True)
class SessionPrincipal:
    sub: str
    kind: str
    department: str | None


def session_principal(request: Request, hub: FormsHub) -> SessionPrincipal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    if "forms_principal" in request.scope.setdefault("state", {}):
        return request.scope["state"]["forms_principal"]
    with hub.runtime.sessions() as db:
        row = session_from_cookie(db, hub, cookie, hub.now())
        principal = SessionPrincipal(row.sub, row.kind, row.department) if row else None
    request.scope["state"]["forms_principal"] = principal
    return principal


def same_origin(request: Request, hub: FormsHub) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-origin request (browsers send Origin on those)
    issuer = urlsplit(hub.issuer)
    return origin == f"{issuer.scheme}://{issuer.netloc}"


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def current_resident(request: Request) -> Resident:
    hub = get_hub(request)
    principal = session_principal(request, hub)
    if principal is None or principal.kind != "resident":
        raise Problem(401, "Unauthorized", "Sign in to the forms hub first (GET /forms/auth/login).")
    if request.method in UNSAFE_METHODS and not same_origin(request, hub):
        raise Problem(403, "Forbidden", "Cross-site requests are refused.")
    return Resident(principal.sub)


def department_system(hub: FormsHub, token: str) -> DepartmentSystem:
    try:
        claims = hub.provider.verify_access_token(token, hub.audience)
    except InvalidToken as exc:
        raise BearerProblem(401, "invalid_token", f"The access token is not valid: {exc}.") from None
    except ProviderError:
        raise Problem(503, "Service unavailable", "The identity provider's keys cannot be fetched.") from None
    scopes = str(claims.get("scope", "")).split()
    department = claims.get("department")
    if DEPARTMENT_SCOPE not in scopes:
        raise BearerProblem(
            403, "insufficient_scope", f"The token was not issued with scope {DEPARTMENT_SCOPE}."
        )
    if not isinstance(department, str) or not department or claims.get("sub") != claims.get("client_id"):
        raise BearerProblem(
            403, "insufficient_scope", "Only a department's client_credentials token is accepted."
        )
    return DepartmentSystem(client_id=str(claims["client_id"]), department=department.upper())


def current_staff(request: Request) -> Staff:
    hub = get_hub(request)
    token = _bearer(request)
    if token:
        return department_system(hub, token)
    principal = session_principal(request, hub)
    if principal is None:
        raise BearerProblem(401, "", "An officer's session or a department access token is required.")
    if principal.kind != "officer" or not principal.department:
        raise Problem(403, "Forbidden", "Only officers of a department can do this.")
    if request.method in UNSAFE_METHODS and not same_origin(request, hub):
        raise Problem(403, "Forbidden", "Cross-site requests are refused.")
    return Officer(principal.sub, principal.department)


@dataclass(frozen=True)
class FormAdmin:
    """``department`` None: the gateway administrator (any department)."""

    department: str | None


def current_form_admin(request: Request) -> FormAdmin:
    hub = get_hub(request)
    token = _bearer(request)
    if token is None:
        raise BearerProblem(401, "", "The admin token or a department access token is required.")
    admin_token = hub.runtime.settings.admin_token
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return FormAdmin(None)
    if token.count(".") != 2:
        raise BearerProblem(401, "invalid_token", "The token is not valid.")
    return FormAdmin(department_system(hub, token).department)


CurrentResident = Annotated[Resident, Depends(current_resident)]
CurrentStaff = Annotated[Staff, Depends(current_staff)]
CurrentFormAdmin = Annotated[FormAdmin, Depends(current_form_admin)]
