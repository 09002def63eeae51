"""Demo data: residents a newcomer can sign in as, and a registration officer (with a second
factor, which registration work needs). The demo resident's in-person proofing is seeded by
identity/proofing/demo.py."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta

import pyotp
from sqlalchemy.orm import Session

from identity.accounts import repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.schemas import Enrolment
from identity.claims import REGISTRAR
from identity.residents.hkid import format_hkid
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from identity.security.totp import TOTP_INTERVAL
from kit.sealing import derive_key
from kit.settings import Settings

DEMO_HKID = "A1234563"  # A123456(3): a valid check digit, not a real person's number
SELF_ASSERTED_HKID = "B2345671"  # B234567(1): likewise
REGISTRAR_USERNAME = "registrar.lau"


def demo_password(master_key: bytes, who: str = "resident") -> str:
    """Derived from the master secret: the same on every run (idempotent seeding) yet
    different on every installation, so a public demo password never unlocks a real one."""
    raw = derive_key(master_key, f"demo-{who}-password/v1", length=10)
    text = base64.b32encode(raw).decode().lower()
    return f"demo-{text[:4]}-{text[4:8]}-{text[8:12]}"


def seed_demo_resident(db: Session, settings: Settings, master_key: bytes, now: datetime) -> tuple[str, str]:
    """Create (once) the demo resident CHAN Tai Man, email and phone verified; returns
    (identifier to type at sign-in, password)."""
    password = demo_password(master_key)
    enrolment = Enrolment(
        hkid=DEMO_HKID,
        name="CHAN Tai Man",
        name_zh="陳大文",
        birthdate=date(1990, 7, 31),
        gender="male",
        address="Flat 12A, 1 Harbour Road, Wan Chai, Hong Kong",
        phone="+85291234567",
        email="chan.taiman@example.hk",
        password=password,
    )
    return _seed_resident(db, settings, master_key, now, enrolment)


def seed_self_asserted_resident(
    db: Session, settings: Settings, master_key: bytes, now: datetime
) -> tuple[str, str]:
    """Create (once) WONG Siu Ling, enrolled online and never proofed; returns (identifier,
    password)."""
    password = demo_password(master_key, "self-asserted")
    enrolment = Enrolment(
        hkid=SELF_ASSERTED_HKID,
        name="WONG Siu Ling",
        name_zh="黃小玲",
        birthdate=date(1995, 3, 14),
        gender="female",
        address="Room 5, 20 Shan Tung Street, Mong Kok, Kowloon",
        phone="+85261234568",
        email="wong.siuling@example.hk",
        password=password,
    )
    return _seed_resident(db, settings, master_key, now, enrolment)


def _seed_resident(
    db: Session, settings: Settings, master_key: bytes, now: datetime, enrolment: Enrolment
) -> tuple[str, str]:
    """Enrol ``enrolment`` (email and phone verified) unless its number already has an
    account; returns (identifier to type at sign-in, password)."""
    keyring = build_keyring(master_key, settings.field_key_generation)
    if repository.by_hkid_index(db, keyring.hkid_digest(enrolment.hkid)) is None:
        accounts.enrol_resident(
            db,
            keyring,
            hasher_for(settings),
            enrolment,
            None,
            now=now,
            email_verified=True,
            phone_verified=True,
        )
    return format_hkid(enrolment.hkid), enrolment.password


def seed_demo_registrar(
    db: Session, settings: Settings, master_key: bytes, now: datetime
) -> tuple[Account, str, str]:
    """Create (once) the registration officer ``registrar.lau`` and turn on (once) its TOTP, the
    second factor registration work needs; returns (account, password, TOTP secret in base32).
    The secret is the one stored on the account, so every run returns the same."""
    password = demo_password(master_key, "registrar")
    keyring = build_keyring(master_key, settings.field_key_generation)
    account = repository.by_username(db, REGISTRAR_USERNAME)
    if account is None:
        account = accounts.create_staff(
            db,
            keyring,
            hasher_for(settings),
            username=REGISTRAR_USERNAME,
            password=password,
            department="REG",
            roles=[REGISTRAR],
            name="LAU Ka Ming",
            now=now,
        )
    if not accounts.has_totp(account):
        secret = accounts.begin_totp_setup(keyring, account)
        # Confirmed with the previous step's code: a step is accepted once, and the code an
        # authenticator app shows right after seeding must still sign in.
        earlier = pyotp.TOTP(secret).at(now - timedelta(seconds=TOTP_INTERVAL))
        accounts.confirm_totp(db, keyring, account, earlier, None, now)
    return account, password, accounts.totp_secret(keyring, account) or ""
