"""Access rules for the account pages, declared once (STYLE.md): the signed-in account, and
where an action came from. Pages that need an account redirect to sign-in and come back
afterwards (identity.app installs the handler of SignInRequired)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse

from identity.accounts import repository
from identity.accounts.models import Account
from identity.accounts.service import ACTIVE, RequestMeta
from identity.sessions.dependencies import OptionalSession
from identity.sessions.service import SignedInSession
from identity.throttling.dependencies import ClientAddress
from kit.web import DbSession


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


def sign_in_redirect(request: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse("/signin?next=" + quote(exc.next_path, safe="/"), status_code=303)


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
    account = repository.get(db, session.account_id)
    if account is None or account.status != ACTIVE:
        raise SignInRequired(next_path)
    return SignedInAccount(session, account)


CurrentAccount = Annotated[SignedInAccount, Depends(signed_in_account)]


async def request_meta(request: Request, address: ClientAddress) -> RequestMeta:  # async: no thread hop
    return RequestMeta.of(address, request.headers.get("user-agent"))


Meta = Annotated[RequestMeta, Depends(request_meta)]
