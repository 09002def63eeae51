import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from kit.csrf import CSRF_FIELD, CsrfError, CsrfGuard, origin_of

KEY = b"k" * 32
SESSION = "a-session-cookie-value-0123456789"


def _client(guard: CsrfGuard) -> TestClient:
    async def page(request: Request) -> PlainTextResponse:
        response = PlainTextResponse(f"{guard.token(request)}|{guard.field(request)}")
        guard.set_minted_cookie(request, response)
        return response

    async def submit(request: Request) -> PlainTextResponse:
        try:
            guard.verify(request, await request.form())
        except CsrfError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/page", page), Route("/submit", submit, methods=["POST"])])
    return TestClient(app, base_url="https://forms.example")


def _session_guard(**overrides) -> CsrfGuard:
    return CsrfGuard(
        **{"key": KEY, "anchor_cookie": "session", "origin": "https://forms.example", **overrides}
    )


def test_a_session_bound_token_is_accepted_only_with_its_session():
    client = _client(_session_guard())
    assert client.get("/page").text.startswith("|")  # no session: no form to protect, no token
    client.cookies.set("session", SESSION)
    token, field = client.get("/page").text.split("|")
    assert field == f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">'
    assert client.post("/submit", data={CSRF_FIELD: token}).text == "done"
    assert client.post("/submit", data={CSRF_FIELD: token + "x"}).text == "mismatch"
    assert client.post("/submit", data={}).text == "missing"
    client.cookies.set("session", SESSION + "-another")
    assert client.post("/submit", data={CSRF_FIELD: token}).text == "mismatch"
    client.cookies.clear()
    assert client.post("/submit", data={CSRF_FIELD: token}).text == "missing"


def test_the_token_depends_on_the_key():
    client = _client(_session_guard())
    client.cookies.set("session", SESSION)
    token = client.get("/page").text.split("|")[0]
    other = _client(_session_guard(key=b"o" * 32))
    other.cookies.set("session", SESSION)
    assert other.post("/submit", data={CSRF_FIELD: token}).text == "mismatch"


def test_another_origin_is_refused_even_with_a_valid_token():
    client = _client(_session_guard())
    client.cookies.set("session", SESSION)
    token = client.get("/page").text.split("|")[0]
    refused = client.post("/submit", data={CSRF_FIELD: token}, headers={"Origin": "https://evil.example"})
    assert refused.text == "origin"
    same = client.post("/submit", data={CSRF_FIELD: token}, headers={"Origin": "https://forms.example"})
    assert same.text == "done"
    # Privacy-sensitive contexts send "Origin: null"; the token still has to match.
    assert client.post("/submit", data={CSRF_FIELD: token}, headers={"Origin": "null"}).text == "done"


def test_a_pre_session_anchor_is_minted_once_and_set_as_an_httponly_cookie():
    client = _client(_session_guard(anchor_cookie="pre", mint_anchor=True))
    first = client.get("/page")
    set_cookie = first.headers["set-cookie"]
    assert set_cookie.startswith("pre=") and "HttpOnly" in set_cookie and "Secure" in set_cookie
    token = first.text.split("|")[0]
    assert token and token in first.text.split("|")[1]
    second = client.get("/page")
    assert "set-cookie" not in second.headers and second.text.split("|")[0] == token
    assert client.post("/submit", data={CSRF_FIELD: token}).text == "done"


def test_a_pre_session_cookie_we_did_not_mint_is_replaced():
    client = _client(_session_guard(anchor_cookie="pre", mint_anchor=True))
    client.cookies.set("pre", "short")
    page = client.get("/page")
    assert page.headers["set-cookie"].startswith("pre=") and "pre=short" not in page.headers["set-cookie"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [("https://id.example/realm", "https://id.example"), ("http://localhost:8000", "http://localhost:8000")],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin
    assert CsrfGuard(KEY, "c", origin).secure_cookie is origin.startswith("https://")
