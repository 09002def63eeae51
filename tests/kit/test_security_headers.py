from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from kit.security_headers import StrictTransportSecurityMiddleware, hsts_value

EXPECTED = "max-age=31536000; includeSubDomains"


def _app(issuer: str) -> Starlette:
    def plain(request):
        return PlainTextResponse("ok")

    def own(request):
        return PlainTextResponse("ok", headers={"Strict-Transport-Security": "max-age=60"})

    def streamed(request):
        return StreamingResponse(iter([b"a", b"b"]))

    def failing(request):
        return PlainTextResponse("no", status_code=404)

    app = Starlette(
        routes=[Route("/", plain), Route("/own", own), Route("/stream", streamed), Route("/missing", failing)]
    )
    app.add_middleware(StrictTransportSecurityMiddleware, issuer=issuer)
    return app


def test_every_response_of_an_https_issuer_carries_hsts():
    with TestClient(_app("https://egate.example.gov.hk"), base_url="https://egate.example.gov.hk") as http:
        for path in ("/", "/stream", "/missing", "/not-routed"):
            response = http.get(path)
            assert response.headers.get_list("strict-transport-security") == [EXPECTED], path
        assert http.get("/stream").content == b"ab"
        assert http.get("/own").headers.get_list("strict-transport-security") == ["max-age=60"]


def test_an_http_issuer_sends_no_hsts():
    with TestClient(_app("http://127.0.0.1:8000")) as http:
        assert "strict-transport-security" not in http.get("/").headers


def test_the_header_value():
    assert hsts_value() == EXPECTED
    assert hsts_value(60, include_subdomains=False) == "max-age=60"
