"""forms:department grants a department's queue and form definitions to the department's own
client_credentials token only: never to a token issued for a person (it carries auth_time),
whatever its scope, department or roles (issue 12, item 1)."""

from __future__ import annotations

import time

import pytest

PATHS = ("/forms/api/department/submissions", "/forms/api/admin/definitions")


@pytest.mark.parametrize("path", PATHS)
def test_a_token_issued_for_a_person_works_no_queue_and_no_definitions(client, provider, path):
    for_officer = provider.department_token(
        "FEHD", auth_time=int(time.time()), roles=["officer"], acr="basic"
    )
    response = client.get(path, headers={"Authorization": f"Bearer {for_officer}"})
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    own = provider.department_token("FEHD")
    assert client.get(path, headers={"Authorization": f"Bearer {own}"}).status_code == 200
