"""Who is calling: the identity provider's RFC 9068 JWT access tokens, verified locally
against its JWKS by the kernel's ``AccessTokenVerifier`` (audience ``{issuer}/consent``; see
``kit.access_tokens`` for what it defends against), and the access rules every route
declares once as a dependency. Refusals carry the RFC 6750 §3 challenge (``kit.bearer``).

Scopes: ``ledger:resident`` reads the caller's own entries and grants. A resident is the
token's ``sub``, which is the provider's internal account id only for clients registered
with the *public* subject type: residents reach this API through the gateway's first-party
public-subject clients (``ConsentConfig.resident_client_ids`` can pin them). A pairwise
``sub`` matches no resident, so a misregistered client sees nothing rather than another's
entries. ``ledger:department`` reads entries whose recipient department is the token's
``department`` claim (client-credentials tokens carry it). ``ledger:audit`` is for auditors:
it counts only with the ``auditor`` role in the token's ``roles`` claim (RFC 9068 §2.2.3.1),
which the provider puts there for auditor accounts and for clients registered as audit
systems. A scope alone proves only that the client was registered for it, not that the person
behind the token may read every resident's disclosures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from kit.access_tokens import AccessTokenClaims, AccessTokenVerifier
from kit.admin_credential import AdminCredential, UncountedAdminCredential
from kit.bearer import INSUFFICIENT_SCOPE, INVALID_REQUEST, BearerProblem, presented_token, verified_claims
from kit.dpop import Presentation

SCOPE_RESIDENT = "ledger:resident"
SCOPE_DEPARTMENT = "ledger:department"
SCOPE_AUDIT = "ledger:audit"
LEDGER_SCOPES = (SCOPE_RESIDENT, SCOPE_DEPARTMENT, SCOPE_AUDIT)
AUDITOR_ROLE = "auditor"
# A scope that counts only when the token's ``roles`` claim holds the role.
SCOPE_ROLES = {SCOPE_AUDIT: AUDITOR_ROLE}


@dataclass(frozen=True)
class Principal:
    subject: str
    client_id: str | None
    scopes: frozenset[str]
    department: str | None
    token_id: str | None
    is_admin: bool = False
    roles: frozenset[str] = frozenset()

    @property
    def is_auditor(self) -> bool:
        return SCOPE_AUDIT in self.scopes

    @classmethod
    def from_claims(cls, claims: AccessTokenClaims) -> Principal:
        """``scopes``: the token's scopes less any role-bound scope whose role it does not
        carry, so every rule (and every ``SCOPE_AUDIT in scopes``) sees what it may do."""
        department = claims.raw.get("department")
        raw_roles = claims.raw.get("roles")
        roles = (
            frozenset(r for r in raw_roles if isinstance(r, str))
            if isinstance(raw_roles, list)
            else frozenset()
        )
        scopes = frozenset(s for s in claims.scopes if s not in SCOPE_ROLES or SCOPE_ROLES[s] in roles)
        return cls(
            subject=claims.subject,
            client_id=claims.client_id,
            scopes=scopes,
            department=department if isinstance(department, str) and department else None,
            token_id=claims.token_id,
            roles=roles,
        )


@dataclass(frozen=True)
class AccessRules:
    """What the access rules check tokens with, given to the app by ``create_app``.

    ``resident_client_ids``: when set, only these clients may act for a resident.
    ``admin``: the administrator credential (``EGATE_ADMIN_TOKEN``), checked and counted by
    whoever the composition root wires in (kit/admin_credential.py).
    """

    verifier: AccessTokenVerifier
    resident_client_ids: frozenset[str] | None = None
    admin: AdminCredential = field(default_factory=lambda: UncountedAdminCredential(None), repr=False)


def install_access_rules(app: FastAPI, rules: AccessRules) -> None:
    app.state.access_rules = rules


# -- dependencies: the access rules, declared once -------------------------------------------


async def _access_rules(request: Request) -> AccessRules:
    # async: FastAPI runs a sync dependency in a worker thread; this one needs no thread.
    rules: AccessRules = request.app.state.access_rules
    return rules


Rules = Annotated[AccessRules, Depends(_access_rules)]


def _token(request: Request, rules: AccessRules) -> tuple[str, Presentation]:
    """The access token and how it came (Bearer, or DPoP with its proof: RFC 9449 §7)."""
    presented = presented_token(request, rules.verifier.issuer)
    if presented is None:
        raise BearerProblem(401, INVALID_REQUEST, "Send an access token: Authorization: Bearer <token>.")
    return presented


def _verified(rules: AccessRules, presented: tuple[str, Presentation]) -> Principal:
    token, presentation = presented
    return Principal.from_claims(verified_claims(rules.verifier, token, presentation=presentation))


def authenticated(request: Request, rules: Rules) -> Principal:
    return _verified(rules, _token(request, rules))


def _needs(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        role = SCOPE_ROLES.get(scope)
        detail = f"This needs the {scope} scope" + (f" and the {role} role." if role else ".")
        raise BearerProblem(403, INSUFFICIENT_SCOPE, detail, scope=scope)


def resident(rules: Rules, principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_RESIDENT)
    if principal.department is not None:
        raise BearerProblem(403, INSUFFICIENT_SCOPE, "A department's token cannot act for a resident.")
    allowed = rules.resident_client_ids
    if allowed is not None and principal.client_id not in allowed:
        raise BearerProblem(403, INSUFFICIENT_SCOPE, "This client may not read residents' ledgers.")
    return principal


def department(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_DEPARTMENT)
    if principal.department is None:
        raise BearerProblem(403, INSUFFICIENT_SCOPE, "The access token names no department.")
    return principal


def auditor(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    _needs(principal, SCOPE_AUDIT)
    return principal


def ledger_reader(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    if not principal.scopes & set(LEDGER_SCOPES):
        raise BearerProblem(
            403, INSUFFICIENT_SCOPE, "This needs a ledger scope.", scope=" ".join(LEDGER_SCOPES)
        )
    return principal


def auditor_or_admin(request: Request, rules: Rules) -> Principal:
    """An auditor's token, or the administrator credential (EGATE_ADMIN_TOKEN)."""
    presented = _token(request, rules)
    token = presented[0]
    # An access token is a JWT; anything else is presented as the administrator credential.
    if token.count(".") != 2 and rules.admin.matches(request, token):
        return Principal("admin", None, frozenset(), None, None, is_admin=True)
    principal = _verified(rules, presented)
    _needs(principal, SCOPE_AUDIT)
    return principal


Resident = Annotated[Principal, Depends(resident)]
Department = Annotated[Principal, Depends(department)]
Auditor = Annotated[Principal, Depends(auditor)]
LedgerReader = Annotated[Principal, Depends(ledger_reader)]
AuditorOrAdmin = Annotated[Principal, Depends(auditor_or_admin)]
