"""Access rules for pages, declared once (STYLE.md): who is signed in, and the signed-in
account. Pages that need an account redirect to sign-in and come back afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse

from identity.accounts import repository as accounts_repository
from identity.accounts.models import Account
from identity.accounts.service import ACTIVE, RequestMeta
from identity.sessions.service import SignedInSession, current_session
from kit.runtime import DbSession, RuntimeDep


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


def sign_in_redirect(request: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse("/signin?next=" + quote(exc.next_path, safe="/"), status_code=303)


def optional_session(request: Request, db: DbSession, runtime: RuntimeDep) -> SignedInSession | None:
    return current_session(db, request, runtime)


OptionalSession = Annotated[SignedInSession | None, Depends(optional_session)]


@dataclass(frozen=True)
class SignedInAccount:
    session: SignedInSession
    account: Account


def signed_in_account(request: Request, db: DbSession, session: OptionalSession) -> SignedInAccount:
    next_path = request.url.path
    if request.method == "GET" and request.url.query:
        next_path += "?" + request.url.query
    if session is None:
        raise SignInRequired(next_path)
    account = accounts_repository.get(db, session.account_id)
    if account is None or account.status != ACTIVE:
        raise SignInRequired(next_path)
    return SignedInAccount(session, account)


CurrentAccount = Annotated[SignedInAccount, Depends(signed_in_account)]


async def request_meta(request: Request) -> RequestMeta:  # async: no thread hop for pure work
    return RequestMeta.of(request.client.host if request.client else None, request.headers.get("user-agent"))


Meta = Annotated[RequestMeta, Depends(request_meta)]
