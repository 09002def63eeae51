"""A resident's consent grants: list them, withdraw one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from consent.auth import Resident
from consent.grants import service
from consent.grants.schemas import GrantList, GrantOut
from kit.openapi import bearer_problem_responses
from kit.problems import Problem
from kit.web import DbSession, Now

router = APIRouter(prefix="/grants", tags=["grants"])


@router.get("", response_model=GrantList, responses=bearer_problem_responses(422))
def my_grants(
    db: DbSession, now: Now, principal: Resident, status: Literal["active", "all"] = "active"
) -> GrantList:
    """The caller's grants, newest first; ``status=all`` includes expired and revoked ones."""
    views = service.list_grants(db, principal.subject, now)
    if status == "active":
        views = [v for v in views if v.status == service.STATUS_ACTIVE]
    return GrantList(grants=[GrantOut.of(v) for v in views])


@router.post("/{grant_id}/revoke", response_model=GrantOut, responses=bearer_problem_responses(404))
def revoke(grant_id: str, db: DbSession, now: Now, principal: Resident) -> GrantOut:
    """Withdraw consent: the next release to that client (userinfo included) leaves the
    fields out. Revoking an already revoked grant changes nothing."""
    try:
        view = service.revoke_grant(db, principal.subject, grant_id, now)
    except service.GrantNotFound:
        raise Problem(404, "No such grant", "You have no consent grant with this id.") from None
    return GrantOut.of(view)
