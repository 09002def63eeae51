"""How the provider answers a failure the kernel detects (bad input, too large, database
outage): OAuth's error JSON to OAuth clients, a page to a person, problem+json elsewhere."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from kit.failures import Failure, as_oauth_error, as_page, as_problem, wants_html
from kit.openapi import OAUTH_ERROR_CONTENT, PAGE_CONTENT, PROBLEM_CONTENT, Content

# Endpoints whose callers are OAuth clients and read RFC 6749 §5.2-shaped errors.
OAUTH_ENDPOINTS = frozenset({"/token", "/revoke", "/introspect", "/bc-authorize", "/userinfo", "/par"})


def answer_failure(request: Request, failure: Failure) -> Response:
    if request.scope.get("path", "") in OAUTH_ENDPOINTS:
        return as_oauth_error(request, failure)
    if wants_html(request):
        return as_page(request, failure)
    return as_problem(request, failure)


def documented_failure(path: str) -> Content:
    """What ``answer_failure`` answers on ``path``, for the OpenAPI document."""
    if path in OAUTH_ENDPOINTS:
        return OAUTH_ERROR_CONTENT
    return {**PROBLEM_CONTENT, **PAGE_CONTENT}
