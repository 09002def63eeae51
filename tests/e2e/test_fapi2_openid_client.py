"""FAPI 2.0 with an independent client: panva's openid-client 6 under Node (tests/node_rp,
installed by scripts/test with ``npm ci``) signs a resident in to a department registered
with the fapi2 profile: discovery, PAR with a DPoP proof, private_key_jwt, (a signed request
object in one variant), the code exchanged for DPoP-bound tokens, userinfo with its proof,
a refresh, and the forms hub's department API with a DPoP-bound client_credentials token.
The resident's browser (sign-in session, consent page) is played here in Python.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.conftest import REDIRECT_URI
from tests.e2e.oidc_client import follow_to_callback
from tests.support.databases import IN_CI

NODE_RP = Path(__file__).resolve().parents[1] / "node_rp"
RUN_SECONDS = 60


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def department_keys() -> tuple[dict[str, str], dict[str, str]]:
    """The department's private_key_jwt key pair as JWKs: (private, public)."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.private_numbers()
    public = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.public_numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.public_numbers.y.to_bytes(32, "big")),
        "kid": "dept-key-1",
        "use": "sig",
        "alg": "ES256",
    }
    return {**public, "d": b64(numbers.private_value.to_bytes(32, "big"))}, public


def fapi2_department(gateway: Any, **overrides: Any) -> tuple[str, dict[str, str]]:
    private, public = department_keys()
    client_id, _ = gateway.register_client(
        profile="fapi2",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
        allowed_scopes=("openid", "profile", "forms:department"),
        **overrides,
    )
    return client_id, private


def run_node_rp(
    gateway: Any,
    client_id: str,
    private_jwk: dict[str, str] | None,
    scenario: str,
    *,
    browser: requests.Session | None = None,
    **extra: str,
) -> dict[str, Any]:
    """Runs the Node relying party; when it asks for the authorization URL to be followed,
    a resident who is already signed in (``browser``, else a new one) approves the consent
    page. ``extra``: more of the RP's configuration (``client_secret``, ...)."""
    node = shutil.which("node")
    if node is None or not (NODE_RP / "node_modules" / "openid-client").is_dir():
        message = "Node 20 and tests/node_rp/node_modules are needed (scripts/test runs npm ci)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    config = {
        "issuer": gateway.base_url,
        "client_id": client_id,
        "private_jwk": private_jwk,
        "redirect_uri": REDIRECT_URI,
        "scenario": scenario,
        "forms_api": f"{gateway.base_url}/forms/api/department/submissions",
        **extra,
    }
    process = subprocess.Popen(
        [node, str(NODE_RP / "rp.mjs"), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=NODE_RP,
    )
    watchdog = threading.Timer(RUN_SECONDS, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None and process.stdin is not None
        for line in process.stdout:
            message = json.loads(line)
            if "authorize" in message:
                resident = browser or gateway.browser(gateway.new_resident())
                callback = follow_to_callback(resident, message["authorize"])
                process.stdin.write(callback + "\n")
                process.stdin.flush()
            elif "result" in message:
                return message["result"]
            else:
                stderr = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"the Node RP failed: {message} {stderr[-2000:]}")
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"the Node RP ended without a result: {stderr[-2000:]}")
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("scenario", ["fapi2", "fapi2-jar"])
def test_a_fapi2_department_signs_a_resident_in_with_openid_client(gateway, scenario: str) -> None:
    client_id, private_jwk = fapi2_department(gateway)
    result = run_node_rp(gateway, client_id, private_jwk, scenario)

    assert result["discovery"] == {
        "par": f"{gateway.base_url}/par",
        "dpop_algs": ["ES256", "ES384", "PS256"],
        "request_parameter_supported": True,
    }
    # The browser carried the pushed request's URI only (RFC 9126 §4).
    assert result["authorize_query_keys"] == ["client_id", "request_uri"]
    assert result["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    # DPoP-bound tokens (RFC 9449 §5, §6.1) and userinfo with a proof in the DPoP scheme.
    assert result["token_type"] == "dpop"  # oauth4webapi lower-cases the token_type
    assert "jkt" in claims_of(result["access_token"])["cnf"]
    assert result["id_token_claims"]["aud"] == client_id and result["id_token_claims"]["nonce_ok"]
    assert result["userinfo"]["sub"] == result["id_token_claims"]["sub"]
    assert result["userinfo"]["name"] == "CHAN Tai Man"
    assert result["userinfo_proof_sent"] and result["userinfo_scheme"] == "DPoP"
    # The same token as a bearer token, and the same proof twice: refused.
    assert result["as_bearer"]["status"] == 401
    assert result["as_bearer"]["www_authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in result["as_bearer"]["www_authenticate"]
    assert result["replayed_proof"]["status"] == 401
    assert result["replayed_proof"]["body"]["error"] == "invalid_dpop_proof"
    assert "already used" in result["replayed_proof"]["body"]["error_description"]
    # The refresh is DPoP-bound too, and still opens userinfo.
    assert result["refreshed"] == {"token_type": "dpop", "rotated": True}
    # ...and carries a new ID token for the same authentication (OIDC Core §12.2).
    assert result["refreshed_id_token"] == {
        "sub": result["id_token_claims"]["sub"],
        "aud": client_id,
        "auth_time": result["id_token_auth_time"],
        "nonce": None,
    }
    assert result["userinfo_after_refresh"]["sub"] == result["userinfo"]["sub"]
    # The forms hub's department API takes the DPoP-bound department token with its proof...
    assert result["department"]["token_type"] == "dpop"
    assert result["forms_queue"]["status"] == 200
    # ...and refuses it as a bearer token, with a DPoP challenge.
    refused = result["forms_queue_as_bearer"]
    assert refused["status"] == 401 and refused["www_authenticate"].startswith("DPoP ")
    assert "DPoP-bound" in refused["body"]["detail"]


def test_a_par_only_client_s_plain_request_is_refused(gateway) -> None:
    client_id, private_jwk = fapi2_department(gateway)
    result = run_node_rp(gateway, client_id, private_jwk, "plain-refused")
    assert result["discovered_par_endpoint"] == f"{gateway.base_url}/par"
    assert result["plain"]["status"] == 400
    assert "must push its authorization requests" in result["plain"]["body"]


def test_an_unsigned_request_object_is_refused_at_the_par_endpoint(gateway) -> None:
    client_id, private_jwk = fapi2_department(gateway)
    result = run_node_rp(gateway, client_id, private_jwk, "unsigned-jar")
    assert result["pushed"]["error"] == "invalid_request", result
    assert "signed with supported algorithms" in result["pushed"]["error_description"]
