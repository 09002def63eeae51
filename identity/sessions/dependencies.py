"""The session rules of pages, declared once (STYLE.md): the session policy and the
browser's live session, if any. Who the signed-in account is: identity.accounts.dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from identity.sessions.service import SessionPolicy, SignedInSession, current_session
from kit.web import DbSession, Now


async def _session_policy(request: Request) -> SessionPolicy:  # async: no thread hop
    policy: SessionPolicy = request.app.state.session_policy
    return policy


SessionPolicyDep = Annotated[SessionPolicy, Depends(_session_policy)]


def optional_session(
    request: Request, db: DbSession, policy: SessionPolicyDep, now: Now
) -> SignedInSession | None:
    return current_session(db, request, policy, now)


OptionalSession = Annotated[SignedInSession | None, Depends(optional_session)]
