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
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kit.problems import Problem

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Failure:
    status: int
    title: str
    detail: str
    oauth_error: str
    title_zh: str
    detail_zh: str
    headers: dict[str, str] = field(default_factory=dict)

    def because(self, detail: str) -> Failure:
        """The same failure with a more precise (English) explanation."""
        return Failure(
            self.status, self.title, detail, self.oauth_error, self.title_zh, self.detail_zh, self.headers
        )


OUTAGE = Failure(
    503,
    "Service unavailable",
    "The service cannot reach its database just now. Nothing was changed; try again shortly.",
    "temporarily_unavailable",
    "服務暫時未能提供",
    "我們暫時未能處理你的要求，資料沒有任何改動。請稍後再試。",
    {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
)
BAD_INPUT = Failure(
    400,
    "Bad request",
    "The request carries characters or numbers that cannot be accepted.",
    "invalid_request",
    "無法處理這個要求",
    "要求包含無法接受的字元或數字。",
)
TOO_LARGE = Failure(
    413,
    "Content too large",
    "The request body is larger than this address accepts.",
    "invalid_request",
    "內容太大",
    "你傳送的內容超出此處接受的大小。",
)
HEADERS_TOO_LARGE = Failure(
    431,
    "Request header fields too large",
    "The request carries too many or too large header fields.",
    "invalid_request",
    "要求標頭太大",
    "要求的標頭數量或大小超出上限。",
)
TOO_SLOW = Failure(
    408,
    "Request timeout",
    "The request body did not arrive in time.",
    "invalid_request",
    "要求逾時",
    "要求內容未能及時送達。",
    {"Connection": "close"},
)
NO_FILES_HERE = Failure(
    415,
    "Unsupported media type",
    "This address takes no file uploads (multipart bodies).",
    "invalid_request",
    "不支援的內容類型",
    "此處不接受上載檔案。",
)

FailureFormat = Callable[[Request, Failure], Response]


def as_problem(request: Request, failure: Failure) -> Response:
    response = Problem(failure.status, failure.title, failure.detail).response(request.url.path)
    response.headers.update(failure.headers)
    return response


def as_oauth_error(_request: Request, failure: Failure) -> Response:
    headers = {"Cache-Control": "no-store", **failure.headers}
    body = {"error": failure.oauth_error, "error_description": failure.detail}
    return JSONResponse(body, failure.status, headers=headers)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem">
<h1>{title}</h1>
<p>{detail}</p>
<h2 lang="zh-HK">{title_zh}</h2>
<p lang="zh-HK">{detail_zh}</p>
</body></html>
"""


def as_page(_request: Request, failure: Failure) -> Response:
    """For a person in a browser; it needs neither the database nor a template."""
    text = PAGE.format(
        title=html.escape(failure.title),
        detail=html.escape(failure.detail),
        title_zh=html.escape(failure.title_zh),
        detail_zh=html.escape(failure.detail_zh),
    )
    return Response(text, failure.status, headers=failure.headers, media_type="text/html; charset=utf-8")


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
