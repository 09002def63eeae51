"""The demo mailbox: the outbox as a page, newest first, one-time codes and all, so that a
newcomer can enrol, verify a contact, activate an account or reset a password without an
SMTP server or an SMS gateway.

It exists only where ``Settings.demo_mailbox`` holds (``egate serve --demo`` on a loopback
issuer): ``identity.app`` includes this router in that case alone, so that anywhere else the
path is a 404. Recipients are shown in full: the page already shows the codes, which are
worth more than the addresses, and on demo data the address is how one tells messages apart.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from identity.dependencies import KeyringDep
from identity.messaging import outbox
from identity.sessions.dependencies import OptionalSession
from identity.web import render
from kit.web import DbSession

MAILBOX_PATH = "/demo/mailbox"
MAILBOX_SIZE = 50

router = APIRouter(include_in_schema=False)


@router.get(MAILBOX_PATH)
def mailbox_page(request: Request, db: DbSession, keyring: KeyringDep, session: OptionalSession) -> Response:
    messages = outbox.latest(db, keyring, MAILBOX_SIZE)
    return render(request, "demo/mailbox.html", {"messages": messages, "signed_in": session is not None})
