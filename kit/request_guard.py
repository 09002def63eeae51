"""The one place where input no route could accept is refused, before any route runs.

Defended against:
- memory exhaustion: bodies are counted while they stream in (chunked ones too) and refused
  with 413 at the route's limit, never read in full first; header fields are bounded (431);
- slow bodies: a body that stalls between chunks, or takes too long in all, gets 408;
- file parts where none belong: multipart bodies only on the routes that take uploads (415);
- values no database or encoder can hold, which used to surface as 500s deep inside a route:
  NUL characters (PostgreSQL text refuses them), lone surrogates (not encodable as UTF-8),
  control characters in a path (a newline stops Starlette's mounts from matching), integers
  outside the signed 64-bit range (every backend's BIGINT) in a path segment or a JSON
  number, undecodable Basic credentials, JSON nested too deeply to parse. They are
  refused with 400 in the route's own format. (Integer query parameters are bounded where
  they are declared: opaque OAuth values such as ``state`` may be long digit strings.)

The body is handed to the app unchanged once it passed, so routes parse it as before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.failures import (
    BAD_INPUT,
    HEADERS_TOO_LARGE,
    NO_FILES_HERE,
    TOO_LARGE,
    TOO_SLOW,
    Failure,
    FailureFormat,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RequestLimits:
    max_header_count: int = 64
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    body_idle_seconds: float = 10.0
    body_total_seconds: float = 60.0


@dataclass(frozen=True)
class UploadRoute:
    """A route that takes multipart file uploads, and how large its body may be."""

    method: str
    path_pattern: str  # a regular expression matched against the whole path
    max_body_bytes: int

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path_pattern, path) is not None


class Refused(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.api_detail)
        self.failure = failure


def unacceptable_text(value: str) -> str | None:
    """Why a decoded string cannot be accepted, or None."""
    if "\x00" in value:
        return "NUL characters are not accepted."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (no lone surrogates)."
    return None


def unacceptable_token(value: str) -> str | None:
    """Like ``unacceptable_text``, and a whole-number token must fit in 64 bits."""
    reason = unacceptable_text(value)
    if reason is None and _INTEGER.fullmatch(value) and not INT64_MIN <= int(value) <= INT64_MAX:
        return "Numbers must fit in 64 bits."
    return reason


def unacceptable_json(document: Any) -> str | None:
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reason = unacceptable_text(item)
        elif isinstance(item, bool) or not isinstance(item, int):
            reason = None
        else:
            reason = None if INT64_MIN <= item <= INT64_MAX else "Numbers must fit in 64 bits."
        if reason:
            return reason
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class RequestGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        uploads: Sequence[UploadRoute],
        answer: FailureFormat,
    ) -> None:
        self.app = app
        self.limits = limits
        self.uploads = tuple(uploads)
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_headers(scope)
            self._check_target(scope)
            if scope["method"] in _BODY_METHODS:
                body = await self._read_body(scope, receive)
                receive = _replay(body, receive)
        except Refused as refusal:
            await self.answer(Request(scope), refusal.failure)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_headers(self, scope: Scope) -> None:
        headers = scope["headers"]
        size = sum(len(name) + len(value) for name, value in headers)
        if len(headers) > self.limits.max_header_count or size > self.limits.max_header_bytes:
            raise Refused(HEADERS_TOO_LARGE)
        for name, value in headers:  # a handful: cheaper than building a dict
            if name == b"authorization" and value[:6].lower() == b"basic ":
                _check_basic_credentials(value[6:])

    def _check_target(self, scope: Scope) -> None:
        path: str = scope["path"]
        if _CONTROL.search(path):
            _refuse_if("Control characters are not accepted in a path.")
        for segment in path.split("/"):
            _refuse_if(unacceptable_token(segment))
        query = scope.get("query_string", b"")
        if query:
            _check_form_encoded(query)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        content_type = _header(scope, b"content-type").split(";")[0].strip().lower()
        upload = next((u for u in self.uploads if u.matches(scope["method"], scope["path"])), None)
        if content_type == "multipart/form-data" and upload is None:
            raise Refused(NO_FILES_HERE)
        limit = upload.max_body_bytes if upload else self.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(TOO_LARGE)
        body = await self._receive_within(receive, limit)
        if content_type == "application/json" or content_type.endswith("+json"):
            _check_json(body)
        elif content_type == "application/x-www-form-urlencoded":
            _check_form_encoded(body)
        return body

    async def _receive_within(self, receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.limits.body_total_seconds
        while True:
            wait = min(self.limits.body_idle_seconds, deadline - time.monotonic())
            try:
                # asyncio.timeout, not wait_for: no task is created around each receive().
                async with asyncio.timeout(max(wait, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise Refused(TOO_SLOW) from None
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refused(TOO_LARGE)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _refuse_if(reason: str | None) -> None:
    if reason:
        raise Refused(BAD_INPUT.because(reason))


def _header(scope: Scope, name: bytes) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def _check_basic_credentials(encoded: bytes) -> None:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Refused(BAD_INPUT.because("The Basic credentials are not base64-encoded UTF-8.")) from None
    _refuse_if(unacceptable_text(decoded))


def _check_form_encoded(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Refused(BAD_INPUT.because("Form and query values must be UTF-8.")) from None
    for name, value in pairs:
        _refuse_if(unacceptable_text(name) or unacceptable_text(value))


def _check_json(body: bytes) -> None:
    try:
        document = json.loads(body)
    except ValueError:
        return  # not JSON at all: the route answers that in its own words
    except RecursionError:
        raise Refused(BAD_INPUT.because("The JSON is nested too deeply.")) from None
    _refuse_if(unacceptable_json(document))


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
