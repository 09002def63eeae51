"""Admin API for department clients, protected by the administrator credential
(EGATE_ADMIN_TOKEN, sent as a bearer token). Errors follow RFC 7591 §3.2.2; a missing or
wrong credential gets RFC 6750 §3's 401 (identity.app answers AdminAuthError)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException
from starlette.responses import JSONResponse

from identity.clients.models import Client
from identity.clients.profiles import default_auth_method
from identity.clients.schemas import ClientRegistrationRequest, ClientRegistrationResponse
from identity.clients.service import ClientRegistrationError, Registration, list_clients, register
from identity.dependencies import IdentitySettings, MasterKey
from identity.throttling import credentials
from identity.throttling.dependencies import ClientAddress
from kit.bearer import bearer_token
from kit.db import session_scope
from kit.openapi import combine, oauth_error_responses, problem_responses
from kit.web import DbSession, Now, Sessions

router = APIRouter(prefix="/admin/clients", tags=["admin"])
# identity.app answers AdminAuthError: RFC 6750 §3 in the OAuth error format; too many
# failures wait (429 with Retry-After, in problem+json like the provider's framework errors).
ADMIN_REFUSALS = combine(oauth_error_responses(401, challenge=True), problem_responses(429))


class AdminAuthError(Exception):
    pass


def require_admin(
    settings: IdentitySettings,
    sessions: Sessions,
    now: Now,
    address: ClientAddress,
    authorization: Annotated[str, Header()] = "",
) -> None:
    """The administrator credential, under the guessing defence (failures per network and
    pair, identity/throttling/credentials.py). Counted in a unit of work of its own: the
    refusal is an exception, which rolls the request's own back."""
    expected = settings.admin_token
    presented = bearer_token(authorization)

    def matches() -> bool:
        return (
            bool(expected)
            and presented is not None
            and hmac.compare_digest(presented.encode(), (expected or "").encode())
        )

    def refused(until: datetime) -> bool:
        # RFC 6585 §4: 429 with Retry-After; FastAPI answers an HTTPException itself.
        headers = {"Retry-After": credentials.retry_after(until, now), "Cache-Control": "no-store"}
        raise HTTPException(429, "administrator credential: too many failures, retry later", headers)

    for db in session_scope(sessions):
        accepted = credentials.guarded(
            db, now, address, credentials.ADMIN_CREDENTIAL, matches, failed=lambda ok: not ok, refused=refused
        )
    if not accepted:
        raise AdminAuthError


AdminOnly = Annotated[None, Depends(require_admin)]


def to_response(client: Client, secret: str | None) -> ClientRegistrationResponse:
    return ClientRegistrationResponse(
        client_id=client.client_id,
        client_secret=secret,
        client_name=client.name,
        department=client.department,
        redirect_uris=client.redirect_uris,
        post_logout_redirect_uris=client.post_logout_redirect_uris,
        grant_types=client.grant_types,
        scope=" ".join(client.allowed_scopes),
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        subject_type=client.subject_type,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        audit_system=client.audit_system,
        min_identity_level=client.min_identity_level,
        min_acr=client.min_acr,
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_logout_session_required=client.backchannel_logout_session_required,
        backchannel_token_delivery_mode=client.backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=client.backchannel_client_notification_endpoint,
        profile=client.profile,
        require_pushed_authorization_requests=client.require_pushed_authorization_requests,
        dpop_bound_access_tokens=client.dpop_bound_access_tokens,
        require_signed_request_object=client.require_signed_request_object,
        resources=client.resources or [],
    )


@router.post(
    "",
    status_code=201,
    response_model=ClientRegistrationResponse,
    responses=combine(ADMIN_REFUSALS, oauth_error_responses(400)),
)
def create_client(
    body: ClientRegistrationRequest,
    _: AdminOnly,
    db: DbSession,
    now: Now,
    master_key: MasterKey,
    settings: IdentitySettings,
) -> ClientRegistrationResponse | JSONResponse:
    registration = Registration(
        name=body.client_name,
        name_zh=body.client_name_zh,
        department=body.department,
        redirect_uris=body.redirect_uris,
        post_logout_redirect_uris=tuple(body.post_logout_redirect_uris),
        grant_types=tuple(body.grant_types),
        allowed_scopes=tuple(body.scope.split()),
        token_endpoint_auth_method=(
            body.token_endpoint_auth_method
            if "token_endpoint_auth_method" in body.model_fields_set
            else default_auth_method(body.profile)
        ),
        jwks=body.jwks,
        jwks_uri=body.jwks_uri,
        subject_type=body.subject_type,
        id_token_signed_response_alg=body.id_token_signed_response_alg,
        purpose=body.purpose,
        purpose_zh=body.purpose_zh,
        legal_basis=body.legal_basis,
        require_per_request_consent=body.require_per_request_consent,
        audit_system=body.audit_system,
        client_id=body.client_id,
        min_identity_level=body.min_identity_level,
        min_acr=body.min_acr,
        backchannel_logout_uri=body.backchannel_logout_uri,
        backchannel_logout_session_required=body.backchannel_logout_session_required,
        backchannel_token_delivery_mode=body.backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=body.backchannel_client_notification_endpoint,
        profile=body.profile,
        require_pushed_authorization_requests=body.require_pushed_authorization_requests,
        dpop_bound_access_tokens=body.dpop_bound_access_tokens,
        require_signed_request_object=body.require_signed_request_object,
        resources=tuple(body.resources),
    )
    try:
        client, secret = register(db, master_key, registration, now, outbound=settings.outbound_policy)
    except ClientRegistrationError as exc:
        error = "invalid_redirect_uri" if "redirect_uri" in exc.field else "invalid_client_metadata"
        return JSONResponse({"error": error, "error_description": str(exc)}, status_code=400)
    return to_response(client, secret)


@router.get("", response_model=list[ClientRegistrationResponse], responses=ADMIN_REFUSALS)
def get_clients(_: AdminOnly, db: DbSession) -> list[ClientRegistrationResponse]:
    return [to_response(client, None) for client in list_clients(db)]
