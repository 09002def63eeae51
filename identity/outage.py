"""The provider's 503 when its database is down or stalled, in each endpoint's own format:
OAuth's error JSON at the token-side endpoints, a page for a person, problem+json elsewhere."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse, Response

from kit.outage import outage_headers, outage_page, outage_problem, wants_html

# Endpoints whose callers are OAuth clients and read RFC 6749 §5.2-shaped errors.
OAUTH_ENDPOINTS = ("/token", "/revoke", "/introspect", "/bc-authorize", "/userinfo")


def render_outage(request: Request) -> Response:
    path = request.scope.get("path", "")
    if path in OAUTH_ENDPOINTS:
        return JSONResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "the provider cannot reach its database; retry shortly",
            },
            503,
            headers=outage_headers(),
        )
    if wants_html(request):
        return outage_page(request)
    return outage_problem(request)
