"""What the provider may release about an account: the claims of identity/claims.py, from the
decrypted profile. The provider filters them by scope and consent; nothing here decides that."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from identity import claims as names
from identity.accounts import repository
from identity.accounts.repository import SealedClaims
from identity.accounts.service import account_hkid, load_profile
from identity.residents.hkid import format_hkid
from identity.security.keyring import Keyring


class UnknownAccount(LookupError):
    pass


def resident_claims(db: Session, keyring: Keyring, account_id: str) -> dict[str, Any]:
    """Every claim the account has: name, name#zh-HK (omitted when none), birthdate, gender,
    email, email_verified, phone_number, phone_number_verified, address, hkid_number.

    Raises:
        UnknownAccount: no such account.
    """
    account = repository.sealed_claims(db, account_id)
    if account is None:
        raise UnknownAccount(account_id)
    return claims_of(keyring, account)


def claims_of(
    keyring: Keyring, account: SealedClaims, wanted: Collection[str] | None = None
) -> dict[str, Any]:
    """``resident_claims`` of an account already read. ``wanted``: the claims about to be
    released, when known: the HKID number, sealed apart from the profile, is decrypted only
    if it is among them."""
    profile = load_profile(keyring, account)
    result: dict[str, Any] = {names.NAME: profile.name}
    if profile.name_zh:
        result[names.NAME_ZH] = profile.name_zh
    if profile.birthdate:
        result[names.BIRTHDATE] = profile.birthdate
    if profile.gender:
        result[names.GENDER] = profile.gender
    if profile.email:
        result[names.EMAIL] = profile.email
        result[names.EMAIL_VERIFIED] = account.email_verified
    if profile.phone:
        result[names.PHONE] = profile.phone
        result[names.PHONE_VERIFIED] = account.phone_verified
    if profile.address:
        result[names.ADDRESS] = {"formatted": profile.address, "country": "HK"}
    hkid = account_hkid(keyring, account) if wanted is None or names.HKID in wanted else None
    if hkid:
        result[names.HKID] = format_hkid(hkid)
    return result


def account_kind_and_roles(db: Session, account_id: str) -> tuple[str, str | None, list[str]]:
    """(kind, department, roles): ("resident", None, []) or ("staff", "TD", ["officer"]).

    Raises:
        UnknownAccount: no such account.
    """
    account = repository.get(db, account_id)
    if account is None:
        raise UnknownAccount(account_id)
    return account.kind, account.department, list(account.roles or [])
