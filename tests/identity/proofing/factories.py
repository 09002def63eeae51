"""Small factories for the proofing tests: registration officers (with the TOTP their work
needs, and a browser signed in through the real second-factor step), card images, checked
values."""

from __future__ import annotations

import io
import secrets
from datetime import date, timedelta

import pyotp
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.accounts import service as accounts
from identity.accounts.models import Account, AccountEvent
from identity.claims import OFFICER, REGISTRAR
from identity.proofing.schemas import CheckedValues
from identity.residents.hkid import normalise_hkid
from identity.security.totp import TOTP_INTERVAL
from kit.runtime import Runtime
from tests.identity.accounts.factories import PASSWORD, Browser, hasher_of, keyring_of


def create_staff(db: Session, runtime: Runtime, roles: tuple[str, ...] = (REGISTRAR,)) -> Account:
    account = accounts.create_staff(
        db,
        keyring_of(runtime),
        hasher_of(runtime),
        username=f"reg.{secrets.token_hex(4)}",
        password=PASSWORD,
        department="REG",
        roles=list(roles),
        name="LAU Ka Ming",
        now=runtime.clock(),
    )
    db.flush()
    return account


def create_registrar(db: Session, runtime: Runtime, *, second_factor: bool = True) -> Account:
    account = create_staff(db, runtime, (REGISTRAR,))
    if second_factor:
        turn_on_totp(db, runtime, account)
    return account


def turn_on_totp(db: Session, runtime: Runtime, account: Account) -> str:
    """Confirm TOTP through the account service; returns the secret. Confirmed with the code of
    the step before now, so that the current code still signs in (a step is accepted once)."""
    keyring, now = keyring_of(runtime), runtime.clock()
    secret = accounts.begin_totp_setup(keyring, account)
    earlier = pyotp.TOTP(secret).at(now - timedelta(seconds=TOTP_INTERVAL))
    accounts.confirm_totp(db, keyring, account, earlier, None, now)
    db.flush()
    return secret


def current_code(runtime: Runtime, account: Account) -> str:
    secret = accounts.totp_secret(keyring_of(runtime), account)
    assert secret is not None
    return pyotp.TOTP(secret).at(runtime.clock())


def registrar_signed_in(runtime: Runtime, officer: Account) -> Browser:
    """A browser signed in as ``officer`` with the password, then the TOTP code on the real
    second-factor page."""
    browser = Browser(runtime)
    asked = browser.sign_in(officer.username)
    assert asked.status_code == 303 and asked.headers["location"] == "/signin/second-factor"
    browser.get("/signin/second-factor")
    done = browser.post(
        "/signin/second-factor", {"code": current_code(runtime, officer)}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    return browser


def create_officer(db: Session, runtime: Runtime) -> Account:
    """A department officer: staff, but no registrar."""
    return create_staff(db, runtime, (OFFICER,))


def card_image(kind: str = "PNG", size: tuple[int, int] = (640, 400)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 220, 240)).save(buffer, format=kind)
    return buffer.getvalue()


def checked(form: dict[str, str], **overrides: object) -> CheckedValues:
    """The values of an enrolment form as an officer reads them on the card."""
    values: dict[str, object] = {
        "hkid": normalise_hkid(form["hkid"]),
        "name": form["name"],
        "name_zh": form.get("name_zh") or None,
        "birthdate": date.fromisoformat(form["birthdate"]),
        "gender": form["gender"],
    }
    values.update(overrides)
    return CheckedValues(**values)  # type: ignore[arg-type]


def tags(db: Session, account_id: str) -> list[str]:
    db.expire_all()
    rows = db.scalars(
        select(AccountEvent).where(AccountEvent.account_id == account_id).order_by(AccountEvent.id)
    ).all()
    return [row.tag for row in rows]
