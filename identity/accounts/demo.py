"""Demo data: one resident a newcomer can sign in as, and staff created from the CLI."""

from __future__ import annotations

import base64
from datetime import date

from sqlalchemy.orm import Session

from identity.accounts import repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.schemas import Enrolment
from identity.residents.hkid import format_hkid
from identity.security.keyring import keyring_for
from kit.runtime import Runtime
from kit.sealing import derive_key

DEMO_HKID = "A1234563"  # A123456(3): a valid check digit, not a real person's number


def demo_password(runtime: Runtime) -> str:
    """Derived from the master secret: the same on every run (idempotent seeding) yet
    different on every installation, so a public demo password never unlocks a real one."""
    raw = derive_key(runtime.master_key, "demo-resident-password/v1", length=10)
    text = base64.b32encode(raw).decode().lower()
    return f"demo-{text[:4]}-{text[4:8]}-{text[8:12]}"


def seed_demo_resident(db: Session, runtime: Runtime) -> tuple[str, str]:
    """Create (once) the demo resident CHAN Tai Man, email and phone verified; returns
    (identifier to type at sign-in, password)."""
    password = demo_password(runtime)
    keyring = keyring_for(runtime)
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
        accounts.enrol_resident(db, runtime, enrolment, None, email_verified=True, phone_verified=True)
    return format_hkid(DEMO_HKID), password


def create_staff(
    db: Session,
    runtime: Runtime,
    *,
    username: str,
    password: str,
    department: str,
    roles: list[str],
    name: str,
) -> Account:
    """Create a staff account (see identity.accounts.service.create_staff)."""
    return accounts.create_staff(
        db,
        runtime,
        username=username,
        password=password,
        department=department,
        roles=roles,
        name=name,
    )
