"""Routes served by their exact method and path, ahead of FastAPI's routing.

The provider's hot paths (token, introspection, userinfo, sign-in) are answered thousands of
times for every page view. Reaching one of them through the root app's router, the mount of
the service's app, that app's own middleware stack and its router's matching of some 150
routes cost about as much CPU as the protocol work itself (docs/performance.md). A route
whose endpoint takes nothing but the ``Request`` (no path parameters, no dependencies) needs
none of that: this middleware finds it with one dictionary lookup and calls it as FastAPI
would, with the service's app in the scope and its exception handlers for what it raises.

The routes stay declared in their FastAPI routers, which document them (OpenAPI) and serve
them wherever this middleware is not in front (a service's app on its own). Only routers a
service includes without a prefix or dependencies of the include's own may be given here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.worker_threads import in_worker_thread

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ExactRoute:
    """One plain route of a service's app, as mounted at ``prefix``. ``path`` is the route's
    template as the metrics label it (``kit.metrics.route_template``)."""

    path: str
    endpoint: Endpoint
    app: FastAPI
    prefix: str


def is_plain(route: APIRoute) -> bool:
    """Whether FastAPI would do nothing for this route but call it with the request."""
    dependant = route.dependant
    return (
        "{" not in route.path
        and inspect.iscoroutinefunction(route.endpoint)
        and dependant.request_param_name is not None
        and not dependant.dependencies
        and not dependant.path_params
        and not dependant.query_params
        and not dependant.header_params
        and not dependant.cookie_params
        and not dependant.body_params
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
    )


def plain_routes(
    app: FastAPI, routers: Iterable[APIRouter], prefix: str = ""
) -> dict[tuple[str, str], ExactRoute]:
    """The plain routes of ``routers`` (each included in ``app`` as it is), keyed by method
    and full path under the mount ``prefix``."""
    table: dict[tuple[str, str], ExactRoute] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and is_plain(route):
                exact = ExactRoute(path=route.path, endpoint=route.endpoint, app=app, prefix=prefix)
                for method in route.methods or ():
                    table[(method, prefix + route.path)] = exact
    return table


class ExactRoutesMiddleware:
    """Serves the plain routes in ``table`` directly; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, table: dict[tuple[str, str], ExactRoute]) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exact = None
        if scope["type"] == "http":
            exact = self.table.get((scope["method"], scope["path"]))
        if exact is None:
            await self.app(scope, receive, send)
            return
        # What the mount and the router would have put in the scope.
        scope["app"] = exact.app
        scope["router"] = exact.app.router
        scope["route"] = exact
        scope["endpoint"] = exact.endpoint
        scope["root_path"] = scope.get("root_path", "") + exact.prefix
        request = Request(scope, receive, send)
        try:
            response = await exact.endpoint(request)
        except Exception as exc:
            response = await _handled(exact.app, request, exc)
        if not isinstance(response, Response):
            raise TypeError(f"{exact.path}: a plain route must return a Response")
        await response(scope, receive, send)


async def _handled(app: FastAPI, request: Request, exc: Exception) -> Response:
    """The service app's answer to ``exc``, as its ExceptionMiddleware would give it; an
    exception it has no handler for goes on up (the root's ServerErrorMiddleware: 500)."""
    handlers = app.exception_handlers
    handler = None
    if isinstance(exc, HTTPException):
        handler = handlers.get(exc.status_code)
    if handler is None:
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None or handler is handlers.get(Exception):
        raise exc
    if inspect.iscoroutinefunction(handler):
        answer = await handler(request, exc)
    else:
        answer = await in_worker_thread(handler, request, exc)
    assert isinstance(answer, Response)
    return answer
