"""Failures that happen before or around a route (bad input, too large, too slow, database
outage), and the three formats a service answers them in.

A route's own errors are its business; these are the ones the kernel detects in one place
for every route. Each service picks, per request, the format its callers read: OAuth's
error JSON (RFC 6749 §5.2) for OAuth clients, RFC 9457 problem+json for JSON APIs, and a
readable bilingual page for a person in a browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kit.i18n import CATALOGUES, CHINESE, N_
from kit.problems import Problem

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Failure:
    """``title`` and ``detail`` are English and msgids of the one catalogue (kit.i18n): the
    page shows them in both languages; the APIs answer in English, with ``reason`` (a more
    precise explanation, :meth:`because`) when there is one."""

    status: int
    title: str
    detail: str
    oauth_error: str
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    def because(self, reason: str) -> Failure:
        """The same failure with a more precise (English) explanation for the APIs."""
        return replace(self, reason=reason)

    @property
    def api_detail(self) -> str:
        return self.reason or self.detail


OUTAGE = Failure(
    503,
    N_("Service unavailable"),
    N_("The service cannot reach its database just now. Nothing was changed; try again shortly."),
    "temporarily_unavailable",
    {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
)
BAD_INPUT = Failure(
    400,
    N_("Bad request"),
    N_("The request carries characters or numbers that cannot be accepted."),
    "invalid_request",
)
TOO_LARGE = Failure(
    413,
    N_("Content too large"),
    N_("The request body is larger than this address accepts."),
    "invalid_request",
)
HEADERS_TOO_LARGE = Failure(
    431,
    N_("Request header fields too large"),
    N_("The request carries too many or too large header fields."),
    "invalid_request",
)
TOO_SLOW = Failure(
    408,
    N_("Request timeout"),
    N_("The request body did not arrive in time."),
    "invalid_request",
    {"Connection": "close"},
)
NO_FILES_HERE = Failure(
    415,
    N_("Unsupported media type"),
    N_("This address takes no file uploads (multipart bodies)."),
    "invalid_request",
)

FailureFormat = Callable[[Request, Failure], Response]


def as_problem(request: Request, failure: Failure) -> Response:
    response = Problem(failure.status, failure.title, failure.api_detail).response(request.url.path)
    response.headers.update(failure.headers)
    return response


def as_oauth_error(_request: Request, failure: Failure) -> Response:
    headers = {"Cache-Control": "no-store", **failure.headers}
    body = {"error": failure.oauth_error, "error_description": failure.api_detail}
    return JSONResponse(body, failure.status, headers=headers)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem">
<h1>{title}</h1>
<p>{detail}</p>
<h2 lang="zh-Hant-HK">{title_zh}</h2>
<p lang="zh-Hant-HK">{detail_zh}</p>
</body></html>
"""


def as_page(_request: Request, failure: Failure) -> Response:
    """For a person in a browser, in both languages (the catalogue is read once, at the first
    page); it needs neither the database nor a template."""
    text = PAGE.format(
        title=html.escape(failure.title),
        detail=html.escape(failure.detail),
        title_zh=html.escape(CATALOGUES.gettext(CHINESE, failure.title)),
        detail_zh=html.escape(CATALOGUES.gettext(CHINESE, failure.detail)),
    )
    return Response(text, failure.status, headers=failure.headers, media_type="text/html; charset=utf-8")


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
