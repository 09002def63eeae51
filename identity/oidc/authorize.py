"""The authorization endpoint's decisions (OIDC Core §3.1.2): who is signed in, whether the
sign-in is fresh and strong enough, whether the resident meets the department's floors, and
whether the resident agreed to release the claims.

Authlib validates the request (client, exact redirect URI, response type, scope, PKCE,
nonce, prompt syntax); this module decides what happens next and returns one of: a
redirect to sign in, the explanation page of an unmet requirement, the consent page, an
error for the client, or the code.

Never a loop: the browser is sent to sign in (or step up) only when the resident can reach
the needed level from there (identity.signin.flows.step_up_route); otherwise the answer is
the explanation page, from which the resident returns to the department with
``unmet_authentication_requirements`` (OpenID Connect Core Unmet Authentication
Requirements 1.0) or sets up the missing factor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, UnsupportedResponseTypeError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
)

from identity.assurance import ACR_ORDER, acr_satisfies, ial_satisfies, strongest_satisfying
from identity.claims import consent_fields, is_verified_field, requested_claims
from identity.claims_parameter import MalformedClaimsRequest, parse_claims_parameter
from identity.clients.models import Client
from identity.consent_port import ConsentPort, ConsentRequest
from identity.oidc import verified_claims
from identity.oidc.adapter import RequestContext
from identity.oidc.reauthentication import RESUME_PARAM
from identity.proofing.verified import Verification
from identity.sessions.service import SignedInSession
from identity.signin.flows import APP, SECOND_FACTOR, StepUpRoute

UNMET_IDENTITY_LEVEL = "identity_level"
UNMET_ACR = "acr"


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]  # Authlib ships no types
    """OpenID Connect Core Unmet Authentication Requirements 1.0 §2: the provider cannot
    authenticate the resident as the client requires (its identity or authentication floor,
    or the ``acr`` it asked for)."""

    error = "unmet_authentication_requirements"


PROMPT_VALUES = {"none", "login", "consent", "select_account"}
RESPONSE_MODES = {"query", "form_post"}


@dataclass(frozen=True)
class Decision:
    """What Authlib's ``save_authorization_code`` stores with the code (``request.user``)."""

    account_id: str
    session_id: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]
    granted_claims: tuple[str, ...]
    grant_id: str | None
    claims_request: dict[str, Any] | None


@dataclass(frozen=True)
class SignInNeeded:
    """``force``: the sign-in must happen after now, whatever session the browser holds
    (the request is then resumed through identity.oidc.reauthentication).
    ``select_account``: the resident chooses the account (``prompt=select_account``): the
    sign-in page shows the account signed in, to continue with, and the way to sign in with
    another; the request is resumed the same way, so the choice is asked once."""

    acr: str | None
    force: bool
    select_account: bool = False


@dataclass(frozen=True)
class Unmet:
    """The resident does not meet what the department requires in this sign-in: the
    explanation page. ``kind``: UNMET_IDENTITY_LEVEL (``required`` an identity level) or
    UNMET_ACR (``required`` an ``acr``); ``achieved``: the resident's own. ``app``: the
    level can be reached by approving in the app on a bound device (the page offers it)."""

    kind: str
    required: str
    achieved: str
    app: bool = False


@dataclass(frozen=True)
class ConsentNeeded:
    request: ConsentRequest
    client: Client
    already_granted: tuple[str, ...]


@dataclass(frozen=True)
class ParsedParameters:
    prompts: frozenset[str]
    max_age: int | None
    required_acr: str | None
    claims_request: dict[str, Any] | None
    response_mode: str


def parse_parameters(data: dict[str, str], redirect_uri: str) -> ParsedParameters:
    """OIDC parameters Authlib leaves to us; errors are redirected to the client."""
    response_mode = _response_mode(data, redirect_uri)
    _check_response_type(data, redirect_uri)
    prompts = _prompts(data, redirect_uri)
    max_age = _max_age(data, redirect_uri)
    claims_request = _claims_request(data, redirect_uri)
    return ParsedParameters(
        prompts=prompts,
        max_age=max_age,
        required_acr=strongest_satisfying(_requested_acr_values(data, claims_request)),
        claims_request=claims_request,
        response_mode=response_mode,
    )


def unsupported_response_type(
    response_type: str | None, redirect_uri: str | None = None
) -> UnsupportedResponseTypeError:
    """RFC 6749 §4.1.2.1 ``unsupported_response_type``, described in words (Authlib's own
    error carries the bare value as its description)."""
    if not response_type:
        description = "response_type is missing: send response_type=code."
    elif len(response_type) > 40 or invalid_error_characters(response_type):
        description = "This response_type is not supported: send response_type=code."
    else:
        description = (
            f"response_type '{response_type}' is not supported: this provider issues "
            "authorization codes only (response_type=code, with PKCE)."
        )
    return UnsupportedResponseTypeError(response_type, description=description, redirect_uri=redirect_uri)


def _invalid(description: str, redirect_uri: str) -> OAuth2Error:
    return InvalidRequestError(description, redirect_uri=redirect_uri)


def _response_mode(data: dict[str, str], redirect_uri: str) -> str:
    response_mode = data.get("response_mode", "query")
    if response_mode not in RESPONSE_MODES:
        raise _invalid("response_mode must be query or form_post.", redirect_uri)
    return response_mode


def _check_response_type(data: dict[str, str], redirect_uri: str) -> None:
    if data.get("response_type") != "code":
        raise _invalid("Only response_type=code is supported.", redirect_uri)
    if data.get("request") or data.get("request_uri"):
        raise _invalid("Request objects are not supported.", redirect_uri)


def _prompts(data: dict[str, str], redirect_uri: str) -> frozenset[str]:
    prompts = frozenset((data.get("prompt") or "").split())
    if not prompts <= PROMPT_VALUES:
        raise _invalid("Unknown prompt value.", redirect_uri)
    if "none" in prompts and len(prompts) > 1:
        raise _invalid("prompt=none cannot be combined with other values.", redirect_uri)
    return prompts


def _max_age(data: dict[str, str], redirect_uri: str) -> int | None:
    if "max_age" not in data:
        return None
    try:
        max_age = int(data["max_age"])
    except ValueError:
        max_age = None
    if max_age is None or max_age < 0:
        raise _invalid("max_age must be a non-negative integer.", redirect_uri)
    return max_age


def _claims_request(data: dict[str, str], redirect_uri: str) -> dict[str, Any] | None:
    if not data.get("claims"):
        return None
    try:
        return parse_claims_parameter(data["claims"])
    except MalformedClaimsRequest as exc:
        raise _invalid(str(exc), redirect_uri) from None


def _requested_acr_values(data: dict[str, str], claims_request: dict[str, Any] | None) -> list[str]:
    """``acr_values`` plus the values of an essential ``acr`` claim (OIDC Core §5.5.1.1)."""
    requested = (data.get("acr_values") or "").split()
    essential_acr = (claims_request or {}).get("id_token", {}).get("acr")
    if essential_acr and essential_acr.get("essential"):  # shape checked by parse_claims_parameter
        requested += essential_acr.get("values") or [essential_acr.get("value")]
    return [a for a in requested if isinstance(a, str)]


def needed_acr(requested: str | None, floor: str | None) -> str | None:
    """The level a sign-in must reach: the client's ``min_acr`` is a floor under whatever
    the request asks (an unknown floor is ignored, as registration refuses one)."""
    if floor not in ACR_ORDER:
        return requested
    if requested is None or acr_satisfies(floor, requested):
        return floor
    return requested


def authentication_step(
    params: ParsedParameters,
    session: SignedInSession | None,
    now: datetime,
    redirect_uri: str,
    demanded_at: datetime | None,
    required_acr: str | None,
) -> SignedInSession | SignInNeeded:
    """The session when it is fresh enough to be used; otherwise what sign-in must do.
    Whether it is strong enough is :func:`assurance_step`'s question.

    ``demanded_at``: when this very request sent the browser to sign in again, as the server
    recorded it (identity.oidc.reauthentication), never as the request says.
    ``required_acr``: :func:`needed_acr` of the request and the client."""
    silent = "none" in params.prompts
    forcing = "login" in params.prompts or params.max_age is not None
    selecting = "select_account" in params.prompts and demanded_at is None
    if session is None:
        if silent:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        return SignInNeeded(required_acr, force=forcing, select_account=selecting)
    auth_age = (now - session.auth_time).total_seconds()
    forced_done = demanded_at is not None and session.auth_time >= demanded_at
    if "login" in params.prompts and not forced_done:
        return SignInNeeded(required_acr, force=True)
    if params.max_age is not None and auth_age > params.max_age and not forced_done:
        if silent:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        return SignInNeeded(required_acr, force=True)
    if selecting:
        return SignInNeeded(required_acr, force=False, select_account=True)
    return session


def assurance_step(
    params: ParsedParameters,
    session: SignedInSession,
    client: Client,
    identity_level: Callable[[], str],
    required_acr: str | None,
    step_up: Callable[[str], StepUpRoute | None],
    redirect_uri: str,
) -> SignedInSession | SignInNeeded | Unmet:
    """Whether the signed-in resident meets the client's identity floor and the needed
    ``acr``. Below the identity floor nothing in this sign-in helps: the explanation page
    (with ``prompt=none`` the error at once). Below the ``acr``: a step-up when
    ``step_up(acr)`` names a way to reach it from this session, else the explanation page;
    with ``prompt=none`` ``interaction_required`` when a step-up would do, else the error.
    ``identity_level()`` and ``step_up(acr)`` are asked only when a floor or an ``acr``
    calls for them (no query on the common path).
    A step-up by second factor goes to sign-in; one by the app is offered on the page, next
    to the way back to the department (a resident without their phone is not stuck)."""
    silent = "none" in params.prompts
    floor = client.min_identity_level
    level = identity_level() if floor else None
    if floor and level is not None and not ial_satisfies(level, floor):
        if silent:
            raise UnmetAuthenticationRequirementsError(
                "The resident's identity assurance is below the client's minimum.", redirect_uri=redirect_uri
            )
        return Unmet(UNMET_IDENTITY_LEVEL, floor, level)
    if required_acr and not acr_satisfies(session.acr, required_acr):
        route = step_up(required_acr)
        if silent:
            if route is not None:
                raise InteractionRequiredError(redirect_uri=redirect_uri)
            raise UnmetAuthenticationRequirementsError(
                "The resident cannot reach the requested authentication level.", redirect_uri=redirect_uri
            )
        if route == SECOND_FACTOR:
            return SignInNeeded(required_acr, force=False)
        return Unmet(UNMET_ACR, required_acr, session.acr, app=route == APP)
    return session


def consent_step(
    ctx: RequestContext,
    consent: ConsentPort,
    client: Client,
    account_id: str,
    scope: str,
    params: ParsedParameters,
    redirect_uri: str,
    verification: Callable[[], Verification | None],
) -> tuple[tuple[str, ...], str | None] | ConsentNeeded:
    """The claims that may be released and the grant covering them, or the consent to ask.

    Verified fields are asked about only when the resident's ``verification()`` can answer
    them as the request wants: a self-asserted resident is never asked to release what they
    do not have, and a department never receives a consent for it."""
    names = requested_claims(scope, params.claims_request, client.allowed_scopes)
    if any(map(is_verified_field, names)):
        available = verified_claims.releasable_fields(params.claims_request, verification(), names, ctx.now)
        names = [name for name in names if not is_verified_field(name) or name in available]
    if not names:
        return (), None
    if client.legal_basis:
        # A statutory release: no consent asked, still recorded with its legal basis.
        return tuple(consent_fields(names)), None
    request = ConsentRequest(
        resident_id=account_id,
        client_id=client.client_id,
        department=client.department,
        fields=consent_fields(names),
        purpose_en=client.purpose or client.name,
        purpose_zh=client.purpose_zh or client.purpose or client.name_zh or client.name,
    )
    ask_anyway = "consent" in params.prompts or client.require_per_request_consent
    decision = consent.find_covering_grant(ctx.db, request, ctx.now)
    if decision.grant_id and not decision.missing_fields and not ask_anyway:
        return request.fields, decision.grant_id
    if "none" in params.prompts:
        raise ConsentRequiredError(redirect_uri=redirect_uri)
    granted = tuple(f for f in request.fields if f not in decision.missing_fields)
    return ConsentNeeded(request, client, granted if decision.grant_id else ())


def sign_in_location(original_query: dict[str, str], step: SignInNeeded, resume_handle: str | None) -> str:
    """Where the browser signs in, and the authorization request it comes back to (with the
    handle of the sign-in demand, when the request forces one)."""
    resume = dict(original_query)
    params: dict[str, str] = {}
    if resume_handle is not None:
        resume[RESUME_PARAM] = resume_handle
    if step.force:
        params["prompt"] = "login"
    elif step.select_account:
        params["prompt"] = "select_account"
    params["next"] = "/authorize?" + urlencode(resume)
    if step.acr:
        params["acr"] = step.acr
    for name in ("login_hint", "ui_locales"):
        if original_query.get(name):
            params[name] = original_query[name]
    return "/signin?" + urlencode(params)
