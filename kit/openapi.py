"""What the services' OpenAPI documents say about errors, declared once.

Two kinds of error response exist, and each is described where it arises:

- A route's own refusals (no credential, not found, a conflict, invalid answers) differ
  per route, so each route declares them in its decorator with the helpers below:
  ``responses=problem_responses(401, 404, challenge=True)``.
- The failures the kernel detects around every route (``kit.request_guard``: 400, 408,
  413, 415, 431; ``kit.outage``: 503 with Retry-After) can reach every operation. They are
  added to every operation by ``document_failures``, which each service's ``create_app``
  installs with the format it answers them in, the same choice its ``answer_failure``
  makes at run time. Declaring them in every decorator would repeat six statuses on
  ~60 routes, and a new route that forgot them would make the document untrue again.

Error bodies: RFC 9457 problem details (``application/problem+json``) for the JSON APIs,
RFC 6749 §5.2 error JSON for the OAuth endpoints, a bilingual page for browsers.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from kit.problems import PROBLEM_JSON

Content = dict[str, Any]
Responses = dict[int | str, dict[str, Any]]
FailureContent = Callable[[str], Content]

SCHEMAS = "#/components/schemas/"
PROBLEM = "Problem"
VALIDATION_PROBLEM = "ValidationProblem"
OAUTH_ERROR = "OAuthError"

COMPONENT_SCHEMAS: dict[str, Any] = {
    PROBLEM: {
        "title": "Problem details (RFC 9457)",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "description": "A URI reference naming the problem type; about:blank when the "
                "status code says it all (RFC 9457 §3.1.1).",
            },
            "title": {"type": "string", "description": "A short summary of the problem type."},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string", "description": "What happened, for a person to read."},
            "instance": {"type": "string", "description": "The path of the request."},
        },
        # RFC 9457 §3.2: problem types may add members (the forms hub adds ``code``).
        "additionalProperties": True,
    },
    VALIDATION_PROBLEM: {
        "title": "Problem details of invalid input",
        "allOf": [
            {"$ref": SCHEMAS + PROBLEM},
            {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "array",
                        "description": "One item per field that is not valid.",
                        "items": {
                            "type": "object",
                            "required": ["field"],
                            "properties": {
                                "field": {"type": "string"},
                                "code": {"type": "string", "description": "What is wrong, for a program"},
                                "message": {"type": "string", "description": "What is wrong, for a person"},
                            },
                        },
                    }
                },
            },
        ],
    },
    OAUTH_ERROR: {
        "title": "OAuth 2.0 error (RFC 6749 §5.2)",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "description": "invalid_request, invalid_client, invalid_grant, unauthorized_client, "
                "unsupported_grant_type, invalid_scope, invalid_token, insufficient_scope, "
                "access_denied, temporarily_unavailable, ...",
            },
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
        },
    },
}

PROBLEM_CONTENT: Content = {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + PROBLEM}}}
VALIDATION_PROBLEM_CONTENT: Content = {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + VALIDATION_PROBLEM}}}
OAUTH_ERROR_CONTENT: Content = {"application/json": {"schema": {"$ref": SCHEMAS + OAUTH_ERROR}}}
PAGE_CONTENT: Content = {"text/html": {"schema": {"type": "string"}}}

WWW_AUTHENTICATE = {
    "description": "The challenge (RFC 9110 §11.6.1; for bearer tokens RFC 6750 §3).",
    "required": True,
    "schema": {"type": "string"},
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again (RFC 9110 §10.2.3); always sent with a "
    "429 (RFC 6585 §4) and when the database cannot be reached.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
LOCATION = {"description": "Where the browser goes next.", "required": True, "schema": {"type": "string"}}

BODY_METHODS = frozenset({"post", "put", "patch", "delete"})


def _response(status: int, content: Content, *, challenge: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"description": HTTPStatus(status).phrase, "content": dict(content)}
    if challenge and status == 401:
        response["headers"] = {"WWW-Authenticate": WWW_AUTHENTICATE}
    if status == 429:
        response["headers"] = {"Retry-After": {**RETRY_AFTER, "required": True}}
    return response


def problem_responses(*statuses: int, challenge: bool = False) -> Responses:
    """The route's own refusals in problem+json. ``challenge``: its 401 carries a
    ``WWW-Authenticate`` challenge (the bearer-token routes)."""
    return {status: _response(status, _problem_content(status), challenge=challenge) for status in statuses}


def bearer_problem_responses(*statuses: int) -> Responses:
    """The refusals of a resource server checking bearer tokens with ``kit.bearer`` (401 with
    the challenge, 403 for a missing scope, 503 when the issuer's keys cannot be fetched),
    and the route's own ``statuses``, all in problem+json."""
    return combine(problem_responses(401, 403, 503, challenge=True), problem_responses(*statuses))


def oauth_error_responses(*statuses: int, challenge: bool = False) -> Responses:
    """The route's own refusals in the OAuth error format (RFC 6749 §5.2, RFC 6750 §3)."""
    return {status: _response(status, OAUTH_ERROR_CONTENT, challenge=challenge) for status in statuses}


def page_responses(*statuses: int) -> Responses:
    """The route's own refusals as a page, for a person in a browser."""
    return {status: _response(status, PAGE_CONTENT, challenge=False) for status in statuses}


def redirect_responses(*statuses: int) -> Responses:
    return {
        status: {"description": HTTPStatus(status).phrase, "headers": {"Location": LOCATION}}
        for status in statuses
    }


def combine(*parts: Responses) -> Responses:
    """Several ``responses`` dicts as one: a status named in more than one keeps every
    media type (an endpoint that answers a browser with a page and a client with JSON)."""
    combined: Responses = {}
    for part in parts:
        for status, response in part.items():
            _merge_response(combined.setdefault(status, {}), response)
    return combined


def _problem_content(status: int) -> Content:
    return VALIDATION_PROBLEM_CONTENT if status == 422 else PROBLEM_CONTENT


def _merge_response(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Adds what ``target`` lacks: the first description (and model) wins, media types and
    headers add up."""
    for key, value in extra.items():
        if key in ("content", "headers"):
            merged = target.setdefault(key, {})
            for name, item in value.items():
                merged.setdefault(name, item)
        else:
            target.setdefault(key, value)


# -- the kernel's failures on every operation ---------------------------------------------------


def problems_everywhere(_path: str) -> Content:
    """For a service that answers every kernel failure in problem+json."""
    return PROBLEM_CONTENT


def kernel_failures(method: str, takes_files: bool, content: Content) -> Responses:
    """What ``kit.request_guard`` and ``kit.outage`` may answer for this operation."""
    statuses = [400, 431, 503]
    if method in BODY_METHODS:
        statuses += [408, 413] if takes_files else [408, 413, 415]
    failures: Responses = {status: _response(status, content, challenge=False) for status in statuses}
    failures[503]["headers"] = {"Retry-After": RETRY_AFTER}
    return failures


def document_failures(
    app: FastAPI, failure_content: FailureContent, *, validation_content: Content | None = None
) -> None:
    """Make ``app.openapi()`` describe, on every operation, the kernel's failures in the
    format ``failure_content(path)`` names, and add the shared error schemas.

    ``validation_content``: how the service answers a request FastAPI could not validate,
    when it is not FastAPI's own 422 (a service that installs ``kit.problems``'s handlers
    answers it in problem+json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_failures(generate(), failure_content, validation_content)
        return app.openapi_schema

    # FastAPI's documented way to extend the generated document (``app.openapi = ...``).
    app.openapi = openapi  # type: ignore[method-assign]


def _with_failures(
    document: dict[str, Any], failure_content: FailureContent, validation_content: Content | None
) -> dict[str, Any]:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if validation_content is not None and "422" in responses:
                responses["422"]["content"] = dict(validation_content)
            takes_files = "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
            for status, failure in kernel_failures(method, takes_files, failure_content(path)).items():
                _merge_response(responses.setdefault(str(status), {}), failure)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(COMPONENT_SCHEMAS)
    if validation_content is not None:
        # FastAPI's own 422 shapes are no longer referenced.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document
