from starlette.requests import HTTPConnection

from kit.admin_credential import AdminCredentialWaits, UncountedAdminCredential

CONNECTION = HTTPConnection({"type": "http", "headers": [], "client": ("192.0.2.1", 1234)})


def test_an_uncounted_credential_matches_only_the_configured_token():
    credential = UncountedAdminCredential("a" * 40)
    assert credential.matches(CONNECTION, "a" * 40)
    assert not credential.matches(CONNECTION, "a" * 39)
    assert not UncountedAdminCredential(None).matches(CONNECTION, "")


def test_waiting_is_a_429_problem_with_retry_after():
    response = AdminCredentialWaits("17").response("/forms/api/admin/definitions")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.headers["content-type"] == "application/problem+json"
