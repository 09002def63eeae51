"""What schemathesis found the gateway answering with a 500 or outside its OpenAPI
documents, reproduced over real HTTP with an independent client (each failed before its fix)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.openapi.conftest import REDIRECT_URI

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def http(gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, timeout=10, follow_redirects=False) as client:
        yield client


def assert_error_page(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_response_type_authlib_cannot_echo_is_an_error_page_not_a_500(http, method):
    # Authlib builds the error's description from the raw response_type and refuses to when
    # it holds characters outside RFC 6749 §5.2's set (ValueError, then a 500).
    params = {"response_type": "e\u00e8{k8\u00ef"}
    if method == "GET":
        response = http.get("/authorize", params=params)
    else:
        response = http.post("/authorize", data=params)
    assert_error_page(response)


@pytest.mark.parametrize(
    ("response_type", "redirect_uri"),
    [('token"', REDIRECT_URI), ("code", "https://dept.example.gov.hk/\u00e8"), ("code", 'https://x/"')],
)
def test_values_authlib_would_echo_are_refused_for_a_registered_client(
    gateway, http, response_type, redirect_uri
):
    response = http.get(
        "/authorize",
        params={
            "response_type": response_type,
            "client_id": gateway.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
        },
    )
    assert_error_page(response)


@pytest.mark.parametrize("path", ["/consent/grants/a%0Ab/revoke", "/forms/api/forms/a%0Ab", "/jwks%0A"])
def test_a_control_character_in_a_path_is_refused_in_the_service_format(http, path):
    # A newline stopped the gateway's mounts from matching, so the root answered its own
    # undocumented 404 {"detail": "Not Found"}.
    response = http.request("POST" if path.endswith("revoke") else "GET", path)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


def test_an_unparsable_body_on_the_app_api_is_a_problem(http):
    # Not UTF-8: FastAPI's "There was an error parsing the body", then {"detail": ...}.
    body = b"^\xff\x04k)/\xfe"
    response = http.post("/app/approvals", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 400


def test_invalid_input_on_the_identity_api_is_a_problem(http):
    response = http.post("/app/approvals", json=["not", "an", "object"])
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"]


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_an_unsupported_token_type_hint_is_a_400_not_a_401_without_a_challenge(gateway, http, endpoint):
    # Authlib answers unsupported_token_type with 401 and no WWW-Authenticate (RFC 9110
    # §15.5.2 requires one), though the client did authenticate; RFC 6749 §5.2 says 400.
    response = http.post(
        endpoint,
        data={"token": "whatever", "token_type_hint": "id_token"},
        auth=(gateway.client_id, gateway.client_secret),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unsupported_token_type"


@pytest.mark.parametrize(
    "query",
    [
        "/consent/ledger/proofs/inclusion?index=9223372036854775808",
        "/consent/ledger/proofs/consistency?old_size=9223372036854775808",
        "/consent/ledger/audit/entries?before=9223372036854775808",
        "/consent/ledger/audit/access-log?before=48031172789265710494777344",
    ],
)
def test_ledger_integers_beyond_64_bits_are_invalid_input_not_a_500(gateway, http, query):
    token = http.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "ledger:department ledger:audit"},
        auth=(gateway.client_id, gateway.client_secret),
    ).json()["access_token"]
    response = http.get(query, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize("path", ["/forms/api/forms", "/consent/grants", "/admin/clients"])
def test_a_refusal_in_problem_json_keeps_the_headers_it_was_raised_with(http, path):
    # The problem+json handler of framework errors dropped their headers: a 405 lost its
    # Allow (RFC 9110 §15.5.6 requires it), a 429 its Retry-After.
    response = http.delete(path)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"]  # the methods this address takes
