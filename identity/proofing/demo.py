"""Demo identities: the demo resident proofed in person by the demo registration officer,
a self-asserted resident, and the officer (password and TOTP). Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.demo import (
    DEMO_HKID,
    REGISTRAR_USERNAME,
    seed_demo_registrar,
    seed_demo_resident,
    seed_self_asserted_resident,
)
from identity.assurance import IAL_IN_PERSON
from identity.proofing import service as proofing
from identity.proofing.schemas import CheckedValues
from identity.security.keyring import build_keyring
from kit.settings import Settings


@dataclass(frozen=True)
class DemoIdentities:
    resident: tuple[str, str]  # (identifier, password): proofed in person
    self_asserted: tuple[str, str]
    registrar: tuple[str, str]
    registrar_totp_secret: str  # base32, for an authenticator app: registration needs the code


def seed_demo_identities(db: Session, settings: Settings, master_key: bytes, now: datetime) -> DemoIdentities:
    resident = seed_demo_resident(db, settings, master_key, now)
    self_asserted = seed_self_asserted_resident(db, settings, master_key, now)
    officer, officer_password, officer_totp = seed_demo_registrar(db, settings, master_key, now)
    keyring = build_keyring(master_key, settings.field_key_generation)
    account = accounts_repository.by_hkid_index(db, keyring.hkid_digest(DEMO_HKID))
    if account is not None and account.identity_level != IAL_IN_PERSON:
        # Through the counter's own path: the resident's counter code, read out to the officer.
        profile = accounts.load_profile(keyring, account)
        values = CheckedValues(
            hkid=DEMO_HKID,
            name=profile.name,
            name_zh=profile.name_zh,
            birthdate=date.fromisoformat(profile.birthdate or "1990-07-31"),
            gender=profile.gender or "male",
        )
        code, _ = proofing.issue_counter_code(db, keyring, account, now)
        proofing.proof_in_person(db, keyring, officer, account, code, values, None, now, notify=False)
    return DemoIdentities(resident, self_asserted, (REGISTRAR_USERNAME, officer_password), officer_totp)
