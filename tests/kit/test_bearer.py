"""RFC 6750 at a resource server: reading the bearer token and the §3 refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kit.access_tokens import AccessTokenVerifier, CachedJwks, InProcessJwks, JwksUnavailable
from kit.bearer import (
    BearerProblem,
    bearer_token,
    challenge,
    oauth_error_response,
    verified_claims,
)
from kit.problems import PROBLEM_JSON, Problem


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer  abc ", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer ", None),
        ("Bearer", None),
        ("Basic dXNlcjpwYXNz", None),
        ("", None),
        (None, None),
    ],
)
def test_the_token_comes_from_the_authorization_header(header, token):
    assert bearer_token(header) == token


def test_a_challenge_without_an_error_only_asks_for_a_token():
    assert challenge() == "Bearer"
    assert challenge(realm="forms", description="ignored without an error") == 'Bearer realm="forms"'


def test_a_challenge_names_the_error_and_the_scope():
    assert (
        challenge(error="insufficient_scope", scope="ledger:audit", realm="consent")
        == 'Bearer realm="consent", error="insufficient_scope", scope="ledger:audit"'
    )


def test_a_description_cannot_break_out_of_its_quoted_string():
    value = challenge(error="invalid_token", description='bad "token"\\, error="none"\r\nX-Evil: 1')
    assert value == 'Bearer error="invalid_token", error_description="bad token, error=noneX-Evil: 1"'


def test_a_bearer_problem_is_problem_json_with_the_challenge():
    problem = BearerProblem(
        403, "insufficient_scope", "This needs the ledger:audit scope.", scope="ledger:audit"
    )
    response = problem.response("/ledger/entries")
    assert response.status_code == 403 and response.media_type == PROBLEM_JSON
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="ledger:audit"'
    body = json.loads(response.body)
    assert body["title"] == "Forbidden" and body["instance"] == "/ledger/entries"


def test_an_oauth_error_response_is_not_cached():
    response = oauth_error_response(401, "invalid_token", "The access token was revoked.", realm="userinfo")
    assert json.loads(response.body) == {
        "error": "invalid_token",
        "error_description": "The access token was revoked.",
    }
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"] == (
        'Bearer realm="userinfo", error="invalid_token", error_description="The access token was revoked."'
    )


def test_a_missing_token_is_invalid_request_in_the_body_and_no_error_in_the_challenge():
    response = oauth_error_response(401, None, "Send the access token as a Bearer header.", realm="userinfo")
    assert json.loads(response.body)["error"] == "invalid_request"
    assert response.headers["www-authenticate"] == 'Bearer realm="userinfo"'


def _verifier(jwks: Any) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        issuer="https://id.example",
        audience="https://id.example/forms",
        jwks=jwks,
        clock=lambda: datetime.now(UTC),
    )


def test_a_token_that_does_not_verify_is_a_401_invalid_token():
    with pytest.raises(BearerProblem) as refused:
        verified_claims(_verifier(InProcessJwks(lambda: {"keys": []})), "not-a-jwt", realm="forms")
    assert refused.value.status == 401
    assert refused.value.challenge == 'Bearer realm="forms", error="invalid_token"'


def test_keys_that_cannot_be_loaded_are_a_503_not_a_401():
    def down() -> dict[str, Any]:
        raise JwksUnavailable("down")

    token = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln"  # {"alg":"ES256","typ":"at+jwt"}
    with pytest.raises(Problem) as refused:
        verified_claims(_verifier(CachedJwks(down, ttl_seconds=60, min_refresh_seconds=5)), token)
    assert refused.value.status == 503 and not isinstance(refused.value, BearerProblem)
