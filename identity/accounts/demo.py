"""Demo data: one resident a newcomer can sign in as."""

from __future__ import annotations

import base64
from datetime import date, datetime

from sqlalchemy.orm import Session

from identity.accounts import repository
from identity.accounts import service as accounts
from identity.accounts.schemas import Enrolment
from identity.residents.hkid import format_hkid
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit.sealing import derive_key
from kit.settings import Settings

DEMO_HKID = "A1234563"  # A123456(3): a valid check digit, not a real person's number


def demo_password(master_key: bytes) -> str:
    """Derived from the master secret: the same on every run (idempotent seeding) yet
    different on every installation, so a public demo password never unlocks a real one."""
    raw = derive_key(master_key, "demo-resident-password/v1", length=10)
    text = base64.b32encode(raw).decode().lower()
    return f"demo-{text[:4]}-{text[4:8]}-{text[8:12]}"


def seed_demo_resident(db: Session, settings: Settings, master_key: bytes, now: datetime) -> tuple[str, str]:
    """Create (once) the demo resident CHAN Tai Man, email and phone verified; returns
    (identifier to type at sign-in, password)."""
    password = demo_password(master_key)
    keyring = build_keyring(master_key, settings.field_key_generation)
    if repository.by_hkid_index(db, keyring.hkid_digest(DEMO_HKID)) is None:
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
    return format_hkid(DEMO_HKID), password
