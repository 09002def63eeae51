"""Authlib's framework-agnostic AuthorizationServer, spoken to from Starlette.

Authlib ships server integrations for Flask and Django only. This adapter turns a Starlette
request whose body was already read into an ``OAuth2Request`` and Authlib's
``(status, body, headers)`` triples back into Starlette responses. It holds no state: each
request's database session travels in a context variable (see ``RequestContext``).
"""

from __future__ import annotations

import contextvars
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from kit.dpop import url_path

# RFC 6749 leaves size limits to the server; nothing a client legitimately sends is larger.
MAX_PARAMETER_LENGTH = 4096
MAX_PARAMETERS = 64


class OversizedRequest(ValueError):
    pass


@dataclass
class RequestContext:
    """What the server's callbacks need and Authlib does not pass them: the request's unit
    of work and its time (one instant for the whole request)."""

    db: Session
    now: datetime
    request_id: str | None = None
    pending: list[Any] = field(default_factory=list)  # rows to add in save_token
    dpop_jkt: str | None = None  # the key of the token request's DPoP proof (oidc/dpop.py)
    resources: tuple[str, ...] = ()  # the token request's RFC 8707 resources (oidc/resources.py)


current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("oidc_request")


class StarlettePayload(OAuth2Payload):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        # The first value of each key, like werkzeug's MultiDict; duplicates are still visible
        # through datalist, which Authlib checks for parameters that must not repeat.
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]  # Authlib ships no types
    def __init__(self, request: Request, form: FormData | None, issuer: str) -> None:
        # The URI as the issuer publishes it, never rebuilt from Host headers; Authlib refuses
        # plain http except on loopback (RFC 8252 §7.3). Its path and query as Starlette's
        # ``request.url`` gives them, without building the whole URL (the Host header's
        # parsing included) on every token request.
        scope = request.scope
        path = url_path(scope)
        query = scope.get("query_string", b"").decode()
        uri = issuer + path + (f"?{query}" if query else "")
        super().__init__(method=request.method, uri=uri, headers=request.headers)
        query_pairs = list(request.query_params.multi_items()) if query else []
        form_pairs = [(k, v) for k, v in (form.multi_items() if form else []) if isinstance(v, str)]
        _check_sizes(query_pairs + form_pairs)
        self._args = dict(query_pairs)
        self._form = dict(form_pairs)
        self.payload = StarlettePayload(query_pairs + form_pairs)
        # The request as the browser carries it, kept when a pushed request or a request
        # object takes the payload's place (oidc/par.py): what sign-in and consent resume.
        self.front_channel: dict[str, str] = dict(self.payload.data)
        self.pushed_request: str | None = None  # the hash of the request_uri it came from

    @property
    def args(self) -> Mapping[str, str]:
        return self._args

    @property
    def form(self) -> Mapping[str, str]:
        return self._form


def _check_sizes(pairs: list[tuple[str, str]]) -> None:
    if len(pairs) > MAX_PARAMETERS:
        raise OversizedRequest("too many parameters")
    for key, value in pairs:
        if len(key) > 128 or len(value) > MAX_PARAMETER_LENGTH:
            raise OversizedRequest(f"parameter {key[:40]!r} is too long")


FORM_TYPE = "application/x-www-form-urlencoded"
# Starlette refuses a form field larger than this (its default ``max_part_size``).
MAX_FORM_FIELD_BYTES = 1024 * 1024


def form_pairs(body: bytes) -> list[tuple[str, str | UploadFile]] | None:
    """The fields of a form-encoded body as Starlette's form parser reads them (the body as
    Latin-1, fields split at ``&``, empty ones skipped, a field without ``=`` an empty value,
    each half plus- and percent-decoded: what ``parse_qsl`` does), or None when that parser
    must answer instead (more fields than allowed, one too large: its own 400)."""
    if len(body) > MAX_FORM_FIELD_BYTES:
        return None
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
    except ValueError:  # more fields than allowed (counted before empty ones are skipped)
        return None
    return list(pairs)


async def read_oauth2_request(request: Request, issuer: str) -> StarletteOAuth2Request:
    """The request with its form. The hot paths (token, introspection) send small forms:
    the body is split here rather than fed through python-multipart's streaming parser,
    which cost as much as the rest of reading the request; anything unusual still goes
    through ``request.form`` and gets its answers."""
    form = None
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(FORM_TYPE):
            pairs = None
            if content_type.partition(";")[0].strip().lower() == FORM_TYPE:
                pairs = form_pairs(await request.body())
            form = (
                FormData(pairs)
                if pairs is not None
                else await request.form(max_files=0, max_fields=MAX_PARAMETERS)
            )
    return StarletteOAuth2Request(request, form, issuer)


def to_response(status: int, body: Any, headers: list[tuple[str, str]] | None) -> Response:
    headers = list(headers or [])
    if isinstance(body, dict):
        body = json.dumps(body)
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
    response = Response(content=body or b"", status_code=status)
    for name, value in headers:
        response.headers[name] = value
    if status in (400, 401) and "cache-control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def query_params_of(location: str) -> QueryParams:
    return QueryParams(location.split("?", 1)[1] if "?" in location else "")
