"""Plain routes served by their exact path (kit/exact_routes.py): the same answers as the
routers give, the service's exception handlers, the scope a metrics label reads; and
nothing else taken out of the routers' hands."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.testclient import TestClient

from kit.exact_routes import ExactRoutesMiddleware, plain_routes
from kit.keys import load_master_key
from kit.runtime import Runtime
from tests.support.databases import make_settings

LOOPBACK = "http://127.0.0.1"


class Refused(Exception):
    pass


class Forgotten(Exception):
    pass


def _service() -> tuple[FastAPI, APIRouter, list[str]]:
    """A service app whose own middleware notes every request that went through its stack."""
    router = APIRouter()

    @router.post("/plain")
    async def plain(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {"body": body.decode(), "root_path": request.scope["root_path"], "state": request.app.state.name},
            headers={"x-route": request.scope["route"].path},
        )

    @router.get("/refused")
    async def refused(request: Request) -> Response:
        raise Refused

    @router.get("/conflict")
    async def conflict(request: Request) -> Response:
        raise HTTPException(409, "taken")

    @router.get("/forgotten")
    async def forgotten(request: Request) -> Response:
        raise Forgotten

    async def caller(request: Request) -> str:
        return "dependency"

    @router.get("/with-dependency")
    async def with_dependency(request: Request, who: str = Depends(caller)) -> Response:
        return PlainTextResponse(who)

    @router.get("/items/{item}")
    async def item(request: Request) -> Response:
        return PlainTextResponse("item")

    @router.get("/sync")
    def sync(request: Request) -> Response:
        return PlainTextResponse("sync")

    app = FastAPI()
    app.state.name = "service"
    app.include_router(router)
    app.add_exception_handler(Refused, lambda request, exc: PlainTextResponse("refused", 403))

    async def conflict_answer(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("conflict answered", 409)

    app.add_exception_handler(409, conflict_answer)
    routed: list[str] = []

    @app.middleware("http")
    async def note(request: Request, call_next):  # type: ignore[no-untyped-def]
        routed.append(request.url.path)
        return await call_next(request)

    return app, router, routed


def _root(prefix: str, exact: bool) -> tuple[FastAPI, list[str]]:
    service, router, routed = _service()
    root = FastAPI()
    root.mount(prefix, service)
    if exact:
        root.add_middleware(ExactRoutesMiddleware, table=plain_routes(service, [router], prefix))
    return root, routed


def test_only_routes_that_take_nothing_but_the_request_are_served_by_exact_path():
    service, router, _ = _service()
    assert sorted(plain_routes(service, [router], "/svc")) == [
        ("GET", "/svc/conflict"),
        ("GET", "/svc/forgotten"),
        ("GET", "/svc/refused"),
        ("POST", "/svc/plain"),
    ]


@pytest.mark.parametrize("prefix", ["", "/svc"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/plain"), ("GET", "/refused"), ("GET", "/conflict"), ("GET", "/plain"), ("POST", "/plain/")],
)
def test_the_same_answer_as_the_routers_give(prefix, method, path):
    answers = []
    for exact in (False, True):
        root, _ = _root(prefix, exact)
        with TestClient(root) as client:
            response = client.request(method, prefix + path, content=b"a=1", follow_redirects=False)
        answers.append((response.status_code, response.content, response.headers.get("x-route")))
    assert answers[0] == answers[1]


def test_a_plain_route_skips_the_service_stack_and_sees_the_mount_in_its_scope():
    root, routed = _root("/svc", exact=True)
    with TestClient(root) as client:
        answer = client.post("/svc/plain", content=b"hello")
        other = client.get("/svc/with-dependency")
    assert answer.json() == {"body": "hello", "root_path": "/svc", "state": "service"}
    assert answer.headers["x-route"] == "/plain"  # what kit.metrics labels the request with
    assert other.text == "dependency"
    assert routed == ["/svc/with-dependency"]


def test_the_service_handlers_answer_what_a_plain_route_raises():
    root, _ = _root("", exact=True)
    with TestClient(root) as client:
        assert (client.get("/refused").status_code, client.get("/refused").text) == (403, "refused")
        assert client.get("/conflict").text == "conflict answered"


def test_an_exception_no_handler_takes_is_a_server_error():
    root, _ = _root("", exact=True)
    with TestClient(root, raise_server_exceptions=False) as client:
        assert client.get("/forgotten").status_code == 500
    with TestClient(root) as client, pytest.raises(Forgotten):
        client.get("/forgotten")


@pytest.fixture
def provider_app(runtime) -> Iterator[FastAPI]:
    from egate.app import create_app

    yield create_app(runtime)


def _exact_layer(app: FastAPI) -> ExactRoutesMiddleware:
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    node = app.middleware_stack
    while not isinstance(node, ExactRoutesMiddleware):
        node = node.app  # type: ignore[union-attr]
    return node


def test_the_provider_serves_its_hot_paths_by_exact_path(provider_app):
    """A dependency added to one of these routes would quietly take it back into the
    routers: this says which ones the benchmark's figures depend on."""
    table = _exact_layer(provider_app).table
    assert sorted(table) == [
        ("GET", "/userinfo"),
        ("POST", "/introspect"),
        ("POST", "/par"),
        ("POST", "/revoke"),
        ("POST", "/signin"),
        ("POST", "/token"),
        ("POST", "/userinfo"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        (
            "POST",
            "/token",
            {"content-type": "application/x-www-form-urlencoded"},
            b"grant_type=client_credentials",
        ),
        ("POST", "/introspect", {"authorization": "Basic bm9ib2R5Om5vdGhpbmc="}, b"token=x"),
        ("POST", "/revoke", {}, b"token=x"),
        ("GET", "/userinfo", {"authorization": "Bearer not-a-token"}, b""),
        ("POST", "/par", {"content-type": "application/x-www-form-urlencoded"}, b"client_id=nobody"),
        ("POST", "/signin", {"content-type": "application/x-www-form-urlencoded"}, b"identifier=a"),
    ],
)
def test_the_provider_answers_alike_by_exact_path_and_through_the_routers(
    db_engine, session_factory, tmp_path, method, path, headers, body
):
    from egate.app import create_app

    # Authlib takes plain http from a loopback issuer only.
    settings = make_settings(tmp_path, database_url=db_engine.url.render_as_string(False), issuer=LOOPBACK)
    runtime = Runtime(settings, db_engine, session_factory, master_key=load_master_key(settings))
    answers = []
    for exact in (True, False):
        app = create_app(runtime)
        if not exact:
            _exact_layer(app).table = {}
        with TestClient(app, base_url=LOOPBACK) as client:
            response = client.request(method, path, headers=headers, content=body, follow_redirects=False)
        answers.append((response.status_code, response.content, response.headers.get("www-authenticate")))
    assert answers[0] == answers[1]
    assert answers[0][0] >= 400
