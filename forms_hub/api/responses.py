"""The refusals of the hub's access rules (:mod:`forms_hub.access`), as OpenAPI responses
for the routes that declare those rules; the kernel's own failures are added to every
operation by :func:`kit.openapi.document_failures`."""

from __future__ import annotations

from kit.openapi import Responses, bearer_problem_responses, combine, problem_responses

# A resident's hub session cookie: 401 without one. Changes from another origin: 403.
RESIDENT_READS = problem_responses(401)
RESIDENT_CHANGES = problem_responses(401, 403)
# An officer's session or a department's access token: 401 carries the bearer challenge;
# 403 for a token without the scope (or a person who is not an officer); 503 when the
# provider's keys cannot be fetched to check a token.
STAFF = bearer_problem_responses()
# The gateway's admin token or a department's access token, as for STAFF.
# The administrator credential is counted like every credential: a network that failed too
# often waits (429 with Retry-After, kit/admin_credential.py).
FORM_ADMIN = combine(STAFF, problem_responses(429))


def with_refusals(access: Responses, *statuses: int) -> Responses:
    """The access rules' refusals and the route's own, in problem+json."""
    return combine(access, problem_responses(*statuses))
