"""Pushed authorization requests (PAR, RFC 9126), and what the authorization endpoint takes
in place of plain parameters: a pushed request's ``request_uri`` or a signed request object.

At the PAR endpoint an authenticated client posts its authorization request (its
parameters, or a signed ``request`` object); we check it as the authorization endpoint
would, keep it under the hash of a random ``request_uri`` bound to the client, and answer
with the URI and its lifetime (PUSHED_REQUEST_SECONDS, RFC 9126 §2.2). A DPoP proof sent
there binds the code to its key (RFC 9449 §10.1).

At the authorization endpoint (``resolve``), ``client_id`` + ``request_uri`` stand for the
pushed parameters; nothing else in the query counts (RFC 9126 §4). A pushed request opens
once its lifetime has not run out, then serves the resident's sign-in and consent for
OPENED_REQUEST_TTL, and is spent by the code it leads to: a second code is never issued for
it. The browser carries only the URI (``front_channel``), so nothing the client pushed, such
as ``login_hint`` or ``claims``, appears in the resident's address bar or history.

Who must use what (RFC 9126 §6, RFC 9101 §10.5): EGATE_REQUIRE_PAR or the client's
``require_pushed_authorization_requests`` refuse any request not pushed; the client's
``require_signed_request_object`` refuses any request (pushed or not) that is not a signed
request object. Refusals before the redirect URI is verified are shown as a page.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, UnauthorizedClientError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError, RequestUriNotSupportedError

from identity.clients.models import Client
from identity.oidc.adapter import StarletteOAuth2Request, StarlettePayload, current
from identity.oidc.authorize import parse_parameters, unsupported_response_type
from identity.oidc.dpop import InvalidDpopProofError
from identity.oidc.models import OAuthClient
from identity.oidc.reauthentication import RESUME_PARAM
from identity.oidc.request_objects import RequestObjects
from identity.oidc.resources import checked, permitted
from identity.tokens import repository as tokens_repository
from identity.tokens.models import PushedAuthorizationRequest
from kit.settings import Settings

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PUSHED_REQUEST_SECONDS = 60
OPENED_REQUEST_TTL = timedelta(minutes=15)
# Client authentication travels with the pushed request; it is not part of it.
CLIENT_AUTHENTICATION = ("client_id", "client_secret", "client_assertion", "client_assertion_type")
JKT = re.compile(r"[A-Za-z0-9_-]{43}")  # a base64url SHA-256 thumbprint (RFC 7638, RFC 9449 §10)


def _hash(request_uri: str) -> str:
    return hashlib.sha256(request_uri.encode()).hexdigest()


def must_push(settings: Settings, client: Client) -> bool:
    return settings.require_par or client.require_pushed_authorization_requests


class AuthorizationRequests:
    def __init__(self, settings: Settings, request_objects: RequestObjects) -> None:
        self.settings = settings
        self.request_objects = request_objects

    # -- the PAR endpoint --------------------------------------------------------------------
    def push(self, server: Any, oauth_req: StarletteOAuth2Request, client: OAuthClient) -> dict[str, Any]:
        """Keeps the authenticated ``client``'s request; the body of the 201 answer (RFC 9126
        §2.2). Raises an OAuth error (answered as JSON, RFC 9126 §2.3)."""
        ctx = current.get()
        data = oauth_req.payload.data
        if "request_uri" in data:
            raise InvalidRequestError("request_uri cannot be pushed (RFC 9126 section 2.1).")
        if data.get("client_id", client.client_id) != client.client_id:
            raise InvalidRequestError("client_id is not the authenticated client.")
        if "request" in data:
            if "client_id" not in data:  # authenticated by an assertion alone
                pairs = [(k, v) for k, values in oauth_req.payload.datalist.items() for v in values]
                oauth_req.payload = StarlettePayload([*pairs, ("client_id", client.client_id)])
            pairs = self.request_objects.parameters(server, oauth_req)
        elif client.row.require_signed_request_object:
            raise InvalidRequestError("This client must send its request as a signed request object.")
        else:
            pairs = [(k, v) for k, values in oauth_req.payload.datalist.items() for v in values]
            pairs = [(k, v) for k, v in pairs if k not in CLIENT_AUTHENTICATION]
        parameters: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            parameters[name].append(value)
        parameters["client_id"] = [client.client_id]
        self._check(client, parameters)
        presented = ctx.dpop_jkt
        asked = parameters.get("dpop_jkt")
        _check_jkt(asked[0] if asked else None)
        if presented is not None and asked is not None and asked != [presented]:
            raise InvalidDpopProofError(description="dpop_jkt is not the key of the DPoP proof.")
        if presented is not None:
            parameters["dpop_jkt"] = [presented]
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        tokens_repository.add_pushed_request(
            ctx.db,
            PushedAuthorizationRequest(
                request_uri_hash=_hash(request_uri),
                client_id=client.client_id,
                parameters=dict(parameters),
                dpop_jkt=presented,
                created_at=ctx.now,
                expires_at=ctx.now + timedelta(seconds=PUSHED_REQUEST_SECONDS),
                opened_at=None,
                used_at=None,
            ),
            ctx.now,
        )
        return {"request_uri": request_uri, "expires_in": PUSHED_REQUEST_SECONDS}

    def _check(self, client: OAuthClient, parameters: dict[str, list[str]]) -> None:
        """What the authorization endpoint would refuse, refused now (RFC 9126 §2.1), so the
        client learns of it here rather than the resident in the browser."""
        for name, values in parameters.items():
            if name != "resource" and len(values) > 1:
                raise InvalidRequestError("A parameter other than resource is repeated.")
        one = {name: values[0] for name, values in parameters.items()}
        redirect_uri = one.get("redirect_uri")
        if not redirect_uri or not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is missing or not registered for this client.")
        if one.get("response_type") != "code":
            raise unsupported_response_type(one.get("response_type"))
        if not client.check_response_type("code"):
            raise UnauthorizedClientError("This client is not registered for the authorization code flow.")
        if not one.get("code_challenge") or one.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: code_challenge with code_challenge_method S256.")
        checked(parameters.get("resource", []), permitted(client.row, self.settings.issuer))
        try:
            parse_parameters(one, redirect_uri)
        except OAuth2Error as error:
            error.redirect_uri = None  # answered to the client here, never redirected
            raise

    # -- the authorization endpoint ----------------------------------------------------------
    def resolve(self, server: Any, oauth_req: StarletteOAuth2Request) -> None:
        """Puts the parameters the request stands for in ``oauth_req.payload``: a pushed
        request's, or a request object's; refuses what the client or the server does not
        allow (see the module's docstring). ``oauth_req.front_channel`` keeps what the
        browser sent."""
        data = oauth_req.payload.data
        request_uri = data.get("request_uri")
        if request_uri is not None:
            if "request" in data:
                raise InvalidRequestError("request and request_uri cannot be combined.")
            self._open_pushed(oauth_req, request_uri)
            return
        client = server.query_client(data.get("client_id"))
        if client is None:
            return  # Authlib's validation says so, on a page
        if must_push(self.settings, client.row):
            raise InvalidRequestError(
                "This client must push its authorization requests to the PAR endpoint "
                "(RFC 9126) and send only client_id and request_uri here."
            )
        if "request" in data:
            self._replace(oauth_req, self.request_objects.parameters(server, oauth_req))
        elif client.row.require_signed_request_object:
            raise InvalidRequestError("This client must send its request as a signed request object.")
        _check_jkt(oauth_req.payload.data.get("dpop_jkt"))

    def _open_pushed(self, oauth_req: StarletteOAuth2Request, request_uri: str) -> None:
        ctx = current.get()
        if not request_uri.startswith(REQUEST_URI_PREFIX) or len(request_uri) > 200:
            raise RequestUriNotSupportedError()
        row = tokens_repository.pushed_request(ctx.db, _hash(request_uri))
        if row is None or not _usable(row, oauth_req.payload.data.get("client_id"), ctx.now):
            raise InvalidRequestUriError(
                description="The request_uri is unknown, expired, already used or another client's."
            )
        if row.opened_at is None:
            row.opened_at = ctx.now
        pairs = [(name, value) for name, values in row.parameters.items() for value in values]
        self._replace(oauth_req, pairs)
        oauth_req.pushed_request = row.request_uri_hash

    @staticmethod
    def _replace(oauth_req: StarletteOAuth2Request, pairs: list[tuple[str, str]]) -> None:
        resume = oauth_req.front_channel.get(RESUME_PARAM)
        pairs = [(k, v) for k, v in pairs if k != RESUME_PARAM]
        if resume is not None:
            pairs.append((RESUME_PARAM, resume))  # our own sign-in resumption, not the client's
        oauth_req.payload = StarlettePayload(pairs)


def _check_jkt(value: str | None) -> None:
    if value is not None and not JKT.fullmatch(value):
        raise InvalidRequestError("dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638).")


def _usable(row: PushedAuthorizationRequest, client_id: str | None, now: datetime) -> bool:
    if row.used_at is not None or not client_id or not secrets.compare_digest(row.client_id, client_id):
        return False
    if row.opened_at is None:
        return now < row.expires_at
    return now < row.opened_at + OPENED_REQUEST_TTL
