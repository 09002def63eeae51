"""The account forms, parsed and checked field by field.

Each check returns an error code per field (``{"hkid": "hkid.check_digit"}``); pages turn a
code into a sentence in the page's language (identity/web/messages.py). Nothing is saved
unless every field is valid.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from identity.residents.hkid import InvalidHKID, normalise_hkid
from identity.security.keyring import normalise_email
from identity.security.passwords import check_password_policy

GENDERS = ("female", "male", "other")
MIN_AGE = 11
_EMAIL_RE = re.compile(
    r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_E164_RE = re.compile(r"\+[1-9][0-9]{7,14}")
_HK_MOBILE_RE = re.compile(r"[4-9][0-9]{7}")
_USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,63}")


class FormErrors(Exception):
    """Field name -> error code. Raised before anything is written."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{field}: {code}" for field, code in errors.items()))
        self.errors = errors


def _text(form: Any, name: str) -> str:
    value = form.get(name) if form is not None else None
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else ""


def clean_email(raw: str) -> str:
    email = normalise_email(unicodedata.normalize("NFKC", raw))
    if not email:
        raise ValueError("email.required")
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        raise ValueError("email.format")
    return email


def clean_phone(raw: str) -> str:
    """E.164: ``+85291234567``. A bare 8-digit Hong Kong mobile number gets ``+852``."""
    compact = re.sub(r"[\s()-]", "", unicodedata.normalize("NFKC", raw))
    if not compact:
        raise ValueError("phone.required")
    if _HK_MOBILE_RE.fullmatch(compact):
        return "+852" + compact
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164_RE.fullmatch(compact):
        raise ValueError("phone.format")
    return compact


def clean_birthdate(raw: str, today: date) -> date:
    if not raw:
        raise ValueError("birthdate.required")
    try:
        born = date.fromisoformat(raw)
    except ValueError:
        raise ValueError("birthdate.format") from None
    if born > today or born.year < 1900:
        raise ValueError("birthdate.range")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_AGE:
        raise ValueError("birthdate.too_young")
    return born


def clean_address(raw: str) -> str:
    address = " ".join(raw.split())
    if not address:
        raise ValueError("address.required")
    if len(address) > 300:
        raise ValueError("address.too_long")
    return address


def password_errors(password: str, confirm: str, context_words: list[str]) -> str | None:
    if not password:
        return "password.required"
    reasons = check_password_policy(password, context_words=context_words)
    if reasons:
        return f"password.{reasons[0]}"
    if password != confirm:
        return "password.mismatch"
    return None


def parse_identity_fields(form: Any, today: date, errors: dict[str, str]) -> dict[str, Any]:
    """The fields printed on the identity card (``hkid``, ``name``, ``name_zh``, ``birthdate``,
    ``gender``), cleaned; a field's error code goes into ``errors``. Shared by self-enrolment,
    enrolment at a registration counter and an officer's check of the card."""
    values: dict[str, Any] = {}
    try:
        values["hkid"] = normalise_hkid(_text(form, "hkid"))
    except InvalidHKID as exc:
        errors["hkid"] = "hkid.required" if not _text(form, "hkid") else f"hkid.{exc.reason}"
    name = " ".join(_text(form, "name").split())
    if not name:
        errors["name"] = "name.required"
    elif len(name) > 100 or not re.fullmatch(r"[A-Za-z][A-Za-z ,.'-]*", name):
        errors["name"] = "name.format"
    values["name"] = name
    name_zh = "".join(_text(form, "name_zh").split()) or None
    if name_zh and (len(name_zh) > 20 or not all(_is_cjk(c) or c == "·" for c in name_zh)):
        errors["name_zh"] = "name_zh.format"
    values["name_zh"] = name_zh
    gender = _text(form, "gender")
    if gender not in GENDERS:
        errors["gender"] = "gender.required"
    values["gender"] = gender
    try:
        values["birthdate"] = clean_birthdate(_text(form, "birthdate"), today)
    except ValueError as exc:
        errors["birthdate"] = str(exc)
    return values


@dataclass(frozen=True)
class Enrolment:
    hkid: str  # canonical, e.g. A1234563
    name: str
    name_zh: str | None
    birthdate: date
    gender: str
    address: str
    phone: str
    email: str
    password: str

    @classmethod
    def parse(cls, form: Any, today: date) -> Enrolment:
        errors: dict[str, str] = {}
        values = parse_identity_fields(form, today, errors)
        for field, cleaner in (
            ("address", clean_address),
            ("phone", clean_phone),
            ("email", clean_email),
        ):
            try:
                values[field] = cleaner(_text(form, field))
            except ValueError as exc:
                errors[field] = str(exc)
        password = form.get("password") or ""
        name = values["name"]
        context = [name, values.get("email", "").split("@")[0], *name.split()]
        problem = password_errors(password, form.get("password_confirm") or "", context)
        if problem:
            errors["password"] = problem
        values["password"] = password
        if errors:
            raise FormErrors(errors)
        return cls(**values)


@dataclass(frozen=True)
class CounterEnrolment:
    """A resident enrolled by a registration officer who has the identity card in hand: no
    password (the resident sets one with the activation code), a phone number or an email
    address (or both) to send that code to."""

    hkid: str
    name: str
    name_zh: str | None
    birthdate: date
    gender: str
    phone: str | None
    email: str | None

    @classmethod
    def parse(cls, form: Any, today: date) -> CounterEnrolment:
        errors: dict[str, str] = {}
        values = parse_identity_fields(form, today, errors)
        for field, cleaner in (("phone", clean_phone), ("email", clean_email)):
            raw = _text(form, field)
            values[field] = None
            if raw:
                try:
                    values[field] = cleaner(raw)
                except ValueError as exc:
                    errors[field] = str(exc)
        if not _text(form, "phone") and not _text(form, "email"):
            errors["phone"] = "contact.required"
        if errors:
            raise FormErrors(errors)
        return cls(**values)


def _is_cjk(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY"))


@dataclass(frozen=True)
class ContactChange:
    email: str
    phone: str
    address: str

    @classmethod
    def parse(cls, form: Any) -> ContactChange:
        errors: dict[str, str] = {}
        values: dict[str, str] = {}
        for field, cleaner in (("email", clean_email), ("phone", clean_phone), ("address", clean_address)):
            try:
                values[field] = cleaner(_text(form, field))
            except ValueError as exc:
                errors[field] = str(exc)
        if errors:
            raise FormErrors(errors)
        return cls(**values)


def clean_username(raw: str) -> str:
    username = raw.strip().lower()
    if not _USERNAME_RE.fullmatch(username) or "@" in username:
        raise ValueError("username.format")
    return username
