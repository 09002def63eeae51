"""The demo mailbox: the outbox as a page, newest first, one-time codes and all, so that a
newcomer can enrol, verify a contact, activate an account or reset a password without an
SMTP server or an SMS gateway.

It exists only where ``Settings.demo_mailbox`` holds (``egate serve --demo`` on a loopback
issuer): ``identity.app`` includes this router in that case alone, so that anywhere else the
path is a 404. Recipients are shown in full: the page already shows the codes, which are
worth more than the addresses, and on demo data the address is how one tells messages apart.
"""

from __future__ import annotations

import re

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


# Notices go out in both languages at once (kit.i18n.in_both): subjects joined by " / ",
# bodies line by line. Each part is marked with its own language on the page, so that a
# screen reader says it right and the English half is not taken for an untranslated string.
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language_parts(text: str, separator: str) -> list[tuple[str, str]]:
    """``text`` cut at ``separator``, each part with the language tag it is written in."""
    parts = text.split(separator)
    return [("zh-Hant-HK" if _HAN.search(part) else "en", part) for part in parts if part.strip()]


@router.get(MAILBOX_PATH)
def mailbox_page(request: Request, db: DbSession, keyring: KeyringDep, session: OptionalSession) -> Response:
    messages = outbox.latest(db, keyring, MAILBOX_SIZE)
    context = {"messages": messages, "signed_in": session is not None, "language_parts": language_parts}
    return render(request, "demo/mailbox.html", context)
