"""Residents with what the provider's assurance decisions read: an approved proofing (the
registration officer's service is another package's; these write its rows directly), a
confirmed second factor, a bound device."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy.orm import Session

from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.assurance import IAL_IN_PERSON, IAL_REMOTE
from identity.devices.models import Device
from identity.proofing.models import IdentityProofing
from identity.proofing.verified import seal_verified_claims
from identity.security.keyring import Keyring

# What the officer checked against the card: deliberately not the profile's values, so a test
# can tell which of the two a release came from.
CHECKED = {
    "name": "CHAN, Tai-man",
    "name#zh-HK": "陳大文",
    "birthdate": "1980-05-17",
    "gender": "male",
    "hkid_number": "A123456(3)",
}


def proof(
    db: Session,
    keyring: Keyring,
    account: Account,
    now: datetime,
    *,
    level: str = IAL_IN_PERSON,
    claims: dict[str, Any] | None = None,
) -> IdentityProofing:
    """An approved proofing at ``level`` with the sealed checked values; the account's
    identity level raised to it."""
    row = IdentityProofing(
        id=secrets.token_hex(16),
        account_id=account.id,
        level=level,
        check_method="vpip" if level == IAL_IN_PERSON else "vri",
        document_type="idcard",
        status="approved",
        requested_at=now - timedelta(days=1),
        decided_at=now - timedelta(hours=1),
    )
    db.add(row)
    seal_verified_claims(keyring, row, dict(CHECKED if claims is None else claims))
    account.identity_level = level
    db.flush()
    return row


def proof_remotely(db: Session, keyring: Keyring, account: Account, now: datetime) -> IdentityProofing:
    return proof(db, keyring, account, now, level=IAL_REMOTE)


def turn_on_totp(db: Session, keyring: Keyring, account: Account, now: datetime) -> pyotp.TOTP:
    secret = accounts.begin_totp_setup(keyring, account)
    totp = pyotp.TOTP(secret)
    accounts.confirm_totp(db, keyring, account, totp.at(now), None, now)
    db.flush()
    return totp


def bind_device(db: Session, account: Account, now: datetime) -> Device:
    device = Device(
        id=secrets.token_hex(16),
        account_id=account.id,
        name="Test phone",
        public_jwk={"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        bound_session_id=None,
        created_at=now,
    )
    db.add(device)
    db.flush()
    return device
