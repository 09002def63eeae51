"""Accounts of residents and staff: enrolment, profile, verification codes, passwords, TOTP.

Services never commit: the request (or CLI command) that owns the unit of work does. Nothing
here logs or returns an identity-document number, password or code in clear except where the
caller must show it once (new recovery codes, the TOTP key during set-up).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy.orm import Session

from identity.accounts import repository
from identity.accounts.models import Account, AccountEvent, VerificationCode
from identity.accounts.schemas import (
    ContactChange,
    CounterEnrolment,
    Enrolment,
    FormErrors,
    clean_username,
    password_errors,
)
from identity.claims import STAFF_ROLES
from identity.messaging import outbox
from identity.residents.hkid import InvalidHKID, format_hkid, mask_hkid, normalise_hkid
from identity.security import totp
from identity.security.hashing import PooledHasher
from identity.security.keyring import Keyring
from kit.i18n import N_, in_both

RESIDENT = "resident"
STAFF = "staff"
ACTIVE = "active"
SUSPENDED = "suspended"  # a proofed holder of its number won it (identity/proofing/suspension.py)
# A password hash that no password verifies (argon2 refuses to parse it): an account enrolled
# at a registration counter has one until the resident sets a password with the activation code.
UNUSABLE_PASSWORD_PREFIX = "!unusable:"

CODE_TTL = {"email": timedelta(minutes=30), "phone": timedelta(minutes=30), "reset": timedelta(minutes=15)}
ACTIVATION = "activate"
ACTIVATION_TTL = timedelta(days=14)
CODE_MAX_ATTEMPTS = 5
CODES_PER_HOUR = 5


@dataclass(frozen=True)
class RequestMeta:
    """Where an action came from, as recorded in the account activity (never the full IP)."""

    source: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, client_host: str | None, user_agent: str | None) -> RequestMeta:
        return cls(_truncate_address(client_host), (user_agent or "")[:200] or None)


def _truncate_address(host: str | None) -> str | None:
    return _truncated(host) if host else None


@lru_cache(maxsize=1024)
def _truncated(host: str) -> str | None:
    # Cached: every sign-in records where it came from, and the same networks come back.
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class Profile:
    name: str
    name_zh: str | None = None
    birthdate: str | None = None
    gender: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


# Profile encryption ----------------------------------------------------------------------


def _profile_context(account_id: str) -> str:
    return f"account.profile:{account_id}"


def _hkid_context(account_id: str) -> str:
    return f"account.hkid:{account_id}"


def _totp_context(account_id: str) -> str:
    return f"account.totp:{account_id}"


class SealedFields(Protocol):
    """An account's sealed fields: the entity, or a read of just these columns."""

    @property
    def id(self) -> str: ...

    @property
    def profile_encrypted(self) -> str: ...

    @property
    def hkid_encrypted(self) -> str | None: ...


def load_profile(keyring: Keyring, account: SealedFields) -> Profile:
    data = json.loads(keyring.fields.decrypt(account.profile_encrypted, context=_profile_context(account.id)))
    return Profile(**data)


def store_profile(keyring: Keyring, account: Account, profile: Profile) -> None:
    plaintext = json.dumps(asdict(profile), ensure_ascii=False, sort_keys=True)
    account.profile_encrypted = keyring.fields.encrypt(plaintext, context=_profile_context(account.id))


def account_hkid(keyring: Keyring, account: SealedFields) -> str | None:
    if account.hkid_encrypted is None:
        return None
    return keyring.fields.decrypt(account.hkid_encrypted, context=_hkid_context(account.id))


def masked_hkid(keyring: Keyring, account: Account) -> str | None:
    canonical = account_hkid(keyring, account)
    return mask_hkid(canonical) if canonical else None


def formatted_hkid(keyring: Keyring, account: Account) -> str | None:
    canonical = account_hkid(keyring, account)
    return format_hkid(canonical) if canonical else None


def totp_secret(keyring: Keyring, account: Account) -> str | None:
    if account.totp_secret_encrypted is None:
        return None
    return keyring.fields.decrypt(account.totp_secret_encrypted, context=_totp_context(account.id))


def has_totp(account: Account) -> bool:
    return account.totp_secret_encrypted is not None and account.totp_confirmed_at is not None


def rotate_field_encryption(db: Session, keyring: Keyring) -> int:
    """Re-encrypt every encrypted column not under the active field key; returns rows changed.

    Part of the key-rotation path documented in identity/security/keyring.py.
    """
    cipher = keyring.fields
    changed = 0
    for account in repository.all_encrypted_accounts(db):
        touched = False
        for attribute, context in (
            ("profile_encrypted", _profile_context(account.id)),
            ("hkid_encrypted", _hkid_context(account.id)),
            ("totp_secret_encrypted", _totp_context(account.id)),
        ):
            token = getattr(account, attribute)
            if token is not None and cipher.needs_reencrypt(token):
                setattr(account, attribute, cipher.reencrypt(token, context))
                touched = True
        changed += touched
    changed += outbox.rotate(db, keyring)
    db.flush()
    return changed


# Events ----------------------------------------------------------------------------------


def record_event(
    db: Session, account_id: str, tag: str, meta: RequestMeta | None, now: datetime, **details: Any
) -> None:
    meta = meta or RequestMeta()
    repository.add_event(
        db,
        AccountEvent(
            account_id=account_id,
            tag=tag,
            occurred_at=now,
            source=meta.source,
            user_agent=meta.user_agent,
            details=details,
        ),
    )


def write_event(
    db: Session, account_id: str, tag: str, meta: RequestMeta | None, now: datetime, **details: Any
) -> None:
    """:func:`record_event`, written at once (a lean insert: the sign-in's hot path)."""
    meta = meta or RequestMeta()
    repository.insert_event(
        db,
        account_id=account_id,
        tag=tag,
        occurred_at=now,
        source=meta.source,
        user_agent=meta.user_agent,
        details=details,
    )


def activity(db: Session, account_id: str, limit: int = 100) -> list[AccountEvent]:
    return list(repository.events(db, account_id, limit))


# Enrolment and lookup --------------------------------------------------------------------


def new_account_id() -> str:
    return secrets.token_hex(16)


def enrol_resident(
    db: Session,
    keyring: Keyring,
    hasher: PooledHasher,
    enrolment: Enrolment,
    meta: RequestMeta | None,
    *,
    now: datetime,
    email_verified: bool = False,
    phone_verified: bool = False,
) -> Account:
    """Create a resident account.

    Raises:
        FormErrors: ``{"hkid": "hkid.taken"}`` when the number already has an account, or
            ``{"email": "email.taken"}``. The message shown never says whose account it is.
    """
    hkid_digest = keyring.hkid_digest(enrolment.hkid)
    email_digest = keyring.email_digest(enrolment.email)
    errors = _numbers_taken(db, hkid_digest, email_digest)
    if errors:
        hasher.dummy_verify(enrolment.password)  # same cost as a new account
        raise FormErrors(errors)
    account = _add_resident(
        db,
        keyring,
        enrolment,
        hkid_digest,
        email_digest,
        hasher.hash(enrolment.password),
        now,
        address=enrolment.address,
        email_verified_at=now if email_verified else None,
        phone_verified_at=now if phone_verified else None,
    )
    record_event(db, account.id, "account.enrolled", meta, now)
    return account


def _numbers_taken(db: Session, hkid_digest: str, email_digest: str | None) -> dict[str, str]:
    """The form errors for an identity card number or an email address another account holds."""
    errors = {}
    if repository.by_hkid_index(db, hkid_digest) is not None:
        errors["hkid"] = "hkid.taken"
    if email_digest and repository.by_email_index(db, email_digest) is not None:
        errors["email"] = "email.taken"
    return errors


def _add_resident(
    db: Session,
    keyring: Keyring,
    enrolment: Enrolment | CounterEnrolment,
    hkid_digest: str,
    email_digest: str | None,
    password_hash: str,
    now: datetime,
    *,
    address: str | None = None,
    email_verified_at: datetime | None = None,
    phone_verified_at: datetime | None = None,
) -> Account:
    """A new active resident account for ``enrolment``, its number and profile sealed, added.

    Raises:
        FormErrors: ``hkid.taken`` when a concurrent enrolment with the same number won (on the
            unique index).
    """
    account = Account(
        id=new_account_id(),
        kind=RESIDENT,
        status=ACTIVE,
        hkid_index=hkid_digest,
        email_index=email_digest,
        password_hash=password_hash,
        email_verified_at=email_verified_at,
        phone_verified_at=phone_verified_at,
        roles=[],
        locale="en",
        created_at=now,
        updated_at=now,
    )
    account.hkid_encrypted = keyring.fields.encrypt(enrolment.hkid, context=_hkid_context(account.id))
    profile = Profile(
        name=enrolment.name,
        name_zh=enrolment.name_zh,
        birthdate=enrolment.birthdate.isoformat(),
        gender=enrolment.gender,
        address=address,
        phone=enrolment.phone,
        email=enrolment.email,
    )
    store_profile(keyring, account, profile)
    if not repository.add_unless_taken(db, account):
        raise FormErrors({"hkid": "hkid.taken"})
    return account


def create_staff(
    db: Session,
    keyring: Keyring,
    hasher: PooledHasher,
    *,
    username: str,
    password: str,
    department: str,
    roles: list[str],
    name: str,
    now: datetime,
    email: str | None = None,
) -> Account:
    """Create a staff account (department officer, auditor or administrator).

    Raises:
        FormErrors: invalid username, role, department or password, or username taken.
    """
    errors: dict[str, str] = {}
    try:
        username = clean_username(username)
    except ValueError as exc:
        errors["username"] = str(exc)
    unknown = [role for role in roles if role not in STAFF_ROLES]
    if unknown or not roles:
        errors["roles"] = "roles.unknown"
    if not department.strip() or len(department) > 64:
        errors["department"] = "department.required"
    problem = password_errors(password, password, [username, *name.split()])
    if problem:
        errors["password"] = problem
    if not errors and repository.by_username(db, username) is not None:
        errors["username"] = "username.taken"
    if errors:
        raise FormErrors(errors)
    account = Account(
        id=new_account_id(),
        kind=STAFF,
        status=ACTIVE,
        username=username,
        email_index=keyring.email_digest(email) if email else None,
        password_hash=hasher.hash(password),
        email_verified_at=now if email else None,
        department=department.strip(),
        roles=sorted(set(roles)),
        locale="en",
        created_at=now,
        updated_at=now,
    )
    store_profile(keyring, account, Profile(name=name, email=email))
    repository.add_account(db, account)
    record_event(db, account.id, "account.created", None, now)
    return account


def has_usable_password(account: Account) -> bool:
    return not account.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


def enrol_at_counter(db: Session, keyring: Keyring, enrolment: CounterEnrolment, now: datetime) -> Account:
    """Create the account of a resident enrolled by a registration officer, without a
    password (:func:`issue_activation_code`, then :func:`activate_account`). Its identity
    level is raised by the proofing that the officer records with it (identity/proofing).

    Raises:
        FormErrors: ``hkid.taken`` or ``email.taken`` (another account holds them).
    """
    hkid_digest = keyring.hkid_digest(enrolment.hkid)
    email_digest = keyring.email_digest(enrolment.email) if enrolment.email else None
    errors = _numbers_taken(db, hkid_digest, email_digest)
    if errors:
        raise FormErrors(errors)
    account = _add_resident(
        db,
        keyring,
        enrolment,
        hkid_digest,
        email_digest,
        UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(16),
        now,
    )
    record_event(db, account.id, "account.enrolled_at_counter", None, now)
    return account


def update_identity_fields(
    keyring: Keyring,
    account: Account,
    *,
    name: str,
    name_zh: str | None,
    birthdate: str,
    gender: str,
    now: datetime,
) -> list[str]:
    """Set the profile's identity-card fields to what a registration officer checked against
    the card; returns the names of those that changed."""
    profile = load_profile(keyring, account)
    checked = {"name": name, "name_zh": name_zh, "birthdate": birthdate, "gender": gender}
    changed = [field for field, value in checked.items() if getattr(profile, field) != value]
    for field, value in checked.items():
        setattr(profile, field, value)
    store_profile(keyring, account, profile)
    account.updated_at = now
    return changed


def notify(
    db: Session, keyring: Keyring, account: Account, *, subject: str, body: str, now: datetime
) -> bool:
    """Queue a notice to the account's owner: to a verified email address or mobile number
    if it has one, else to the one it gave. False when it has none."""
    profile = load_profile(keyring, account)
    candidates = [
        (account.email_verified_at is not None, outbox.EMAIL, profile.email),
        (account.phone_verified_at is not None, outbox.SMS, profile.phone),
        (True, outbox.EMAIL, profile.email),
        (True, outbox.SMS, profile.phone),
    ]
    for usable, channel, recipient in candidates:
        if usable and recipient:
            outbox.enqueue(
                db, keyring, channel=channel, recipient=recipient, subject=subject, body=body, now=now
            )
            return True
    return False


def find_by_identifier(db: Session, keyring: Keyring, identifier: str) -> Account | None:
    """Residents type their HKID number or email; staff their username."""
    identifier = identifier.strip()
    if not identifier or len(identifier) > 254:
        return None
    if "@" in identifier:
        return repository.by_email_index(db, keyring.email_digest(identifier))
    try:
        canonical = normalise_hkid(identifier)
    except InvalidHKID:
        return repository.by_username(db, identifier.lower())
    return repository.by_hkid_index(db, keyring.hkid_digest(canonical))


def find_credential(db: Session, keyring: Keyring, identifier: str) -> repository.Credential | None:
    """:func:`find_by_identifier` for password sign-in: the same lookup, read lean (the
    credential only, no entity)."""
    identifier = identifier.strip()
    if not identifier or len(identifier) > 254:
        return None
    if "@" in identifier:
        return repository.credential(db, "email_index", keyring.email_digest(identifier))
    try:
        canonical = normalise_hkid(identifier)
    except InvalidHKID:
        return repository.credential(db, "username", identifier.lower())
    return repository.credential(db, "hkid_index", keyring.hkid_digest(canonical))


def identifier_throttle_digest(keyring: Keyring, identifier: str) -> str:
    """A stable key for what was typed, for throttling identifiers that match no account."""
    folded = identifier.strip().lower()
    with contextlib.suppress(InvalidHKID):
        folded = normalise_hkid(identifier)
    return keyring.throttle_digest(folded)


# Verification codes (email, phone, password reset) ----------------------------------------


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def issue_code(db: Session, keyring: Keyring, account: Account, purpose: str, now: datetime) -> bool:
    """Create a one-time code and queue it to the email or phone it proves (``purpose`` email
    or phone), or to the verified contact (``reset``). False when rate-limited or there is
    nowhere to send it."""
    ttl = CODE_TTL[purpose]
    recent = repository.codes_sent_since(db, account.id, purpose, now - timedelta(hours=1) + ttl)
    if recent >= CODES_PER_HOUR:
        return False
    profile = load_profile(keyring, account)
    channel, recipient = _destination(account, profile, purpose)
    if recipient is None:
        return False
    repository.retire_codes(db, account.id, purpose, now)
    code = _new_code()
    repository.add_code(
        db,
        VerificationCode(
            account_id=account.id,
            purpose=purpose,
            code_hash=keyring.hash_one_time_code(purpose, account.id, code),
            expires_at=now + ttl,
            attempts=0,
        ),
    )
    subject, body = _code_message(purpose, code, int(ttl.total_seconds() // 60))
    outbox.enqueue(db, keyring, channel=channel, recipient=recipient, subject=subject, body=body, now=now)
    return True


def new_private_code(
    db: Session,
    keyring: Keyring,
    account: Account,
    purpose: str,
    ttl: timedelta,
    now: datetime,
    *,
    digits: int,
) -> str:
    """A one-time code of ``purpose`` that is sent nowhere: the caller shows it once. Only its
    keyed digest is stored; earlier live codes of the purpose stop working. Check it with
    :func:`check_code` (single use, five wrong guesses at most)."""
    repository.retire_codes(db, account.id, purpose, now)
    code = f"{secrets.randbelow(10**digits):0{digits}d}"
    repository.add_code(
        db,
        VerificationCode(
            account_id=account.id,
            purpose=purpose,
            code_hash=keyring.hash_one_time_code(purpose, account.id, code),
            expires_at=now + ttl,
            attempts=0,
        ),
    )
    return code


def issue_activation_code(db: Session, keyring: Keyring, account: Account, now: datetime) -> str:
    """The code with which a resident enrolled at a counter sets a password; queued to every
    contact the resident gave and returned (the officer shows it once, on paper or screen)."""
    code = new_private_code(db, keyring, account, ACTIVATION, ACTIVATION_TTL, now, digits=8)
    days = ACTIVATION_TTL.days
    body = in_both(
        N_(
            "Your e-Gateway account was created at a registration counter. To start using it, go to "
            "the activation page, enter your identity card number and the code {code}, and choose a "
            "password. The code expires in {days} days."
        ),
        code=code,
        days=days,
    )
    profile = load_profile(keyring, account)
    for channel, recipient in ((outbox.EMAIL, profile.email), (outbox.SMS, profile.phone)):
        if recipient:
            outbox.enqueue(
                db,
                keyring,
                channel=channel,
                recipient=recipient,
                subject=in_both(N_("e-Gateway account activation"), " / "),
                body=body,
                now=now,
            )
    return code


def activate_account(
    db: Session,
    keyring: Keyring,
    hasher: PooledHasher,
    identifier: str,
    code: str,
    new: str,
    confirm: str,
    meta: RequestMeta | None,
    now: datetime,
) -> Account:
    """Set the first password of an account enrolled at a counter, with its activation code.

    Raises:
        FormErrors: ``code.wrong`` for a wrong or expired code, an unknown number or an
            account that already has a password (the same answer for each, so that the page
            tells a prober nothing), or the new password refused (checked before the code is
            consumed).
    """
    try:
        canonical = normalise_hkid(identifier)
    except InvalidHKID as exc:
        raise FormErrors(
            {"hkid": "hkid.required" if not identifier.strip() else f"hkid.{exc.reason}"}
        ) from None
    problem = password_errors(new, confirm, [])
    if problem:
        raise FormErrors({"new_password": problem})
    account = repository.by_hkid_index(db, keyring.hkid_digest(canonical))
    if account is None or account.status != ACTIVE or has_usable_password(account):
        raise FormErrors({"code": "code.wrong"})
    problem = password_errors(new, confirm, _context_words(keyring, account))
    if problem:
        raise FormErrors({"new_password": problem})
    if not check_code(db, keyring, account, ACTIVATION, code, now):
        raise FormErrors({"code": "code.wrong"})
    account.password_hash = hasher.hash(new)
    account.updated_at = now
    record_event(db, account.id, "account.activated", meta, now)
    return account


def _destination(account: Account, profile: Profile, purpose: str) -> tuple[str, str | None]:
    if purpose == "email":
        return outbox.EMAIL, profile.email
    if purpose == "phone":
        return outbox.SMS, profile.phone
    if account.email_verified_at and profile.email:
        return outbox.EMAIL, profile.email
    if account.phone_verified_at and profile.phone:
        return outbox.SMS, profile.phone
    return outbox.EMAIL, None


def _code_message(purpose: str, code: str, minutes: int) -> tuple[str, str]:
    # Bilingual, as Hong Kong government messages are; the code is never in the subject.
    if purpose == "reset":
        subject = in_both(N_("e-Gateway password reset"), " / ")
        body = in_both(
            N_(
                "Your code to reset your e-Gateway password is {code}. It expires in {minutes} "
                "minutes. If you did not ask for it, you can ignore this message."
            ),
            code=code,
            minutes=minutes,
        )
    else:
        subject = in_both(N_("e-Gateway verification code"), " / ")
        body = in_both(
            N_("Your e-Gateway verification code is {code}. It expires in {minutes} minutes."),
            code=code,
            minutes=minutes,
        )
    return subject, body


def check_code(
    db: Session, keyring: Keyring, account: Account, purpose: str, code: str, now: datetime
) -> bool:
    """Consume a matching live code; wrong guesses count against the code (5 at most)."""
    candidate = "".join(str(code or "").split())
    rows = repository.live_codes(db, account.id, purpose, now)
    if not rows:
        return False
    row = rows[0]
    if row.attempts >= CODE_MAX_ATTEMPTS:
        return False
    expected = keyring.hash_one_time_code(purpose, account.id, candidate)
    if secrets.compare_digest(expected, row.code_hash):
        row.used_at = now
        return True
    row.attempts += 1
    return False


def verify_contact(
    db: Session,
    keyring: Keyring,
    account: Account,
    channel: str,
    code: str,
    meta: RequestMeta | None,
    now: datetime,
) -> bool:
    if not check_code(db, keyring, account, channel, code, now):
        return False
    if channel == "email":
        account.email_verified_at = now
    else:
        account.phone_verified_at = now
    account.updated_at = now
    record_event(db, account.id, f"{channel}.verified", meta, now)
    return True


def change_contact(
    db: Session,
    keyring: Keyring,
    account: Account,
    change: ContactChange,
    meta: RequestMeta | None,
    now: datetime,
) -> list[str]:
    """Update email, phone, address; a changed email or phone must be verified again.
    Returns the channels that now need verification.

    Raises:
        FormErrors: ``{"email": "email.taken"}`` when another account uses the email.
    """
    profile = load_profile(keyring, account)
    changed: list[str] = []
    if change.email != profile.email:
        digest = keyring.email_digest(change.email)
        other = repository.by_email_index(db, digest)
        if other is not None and other.id != account.id:
            raise FormErrors({"email": "email.taken"})
        account.email_index = digest
        account.email_verified_at = None
        changed.append("email")
    if change.phone != profile.phone:
        account.phone_verified_at = None
        changed.append("phone")
    fields = [
        name for name in ("email", "phone", "address") if getattr(change, name) != getattr(profile, name)
    ]
    profile.email, profile.phone, profile.address = change.email, change.phone, change.address
    store_profile(keyring, account, profile)
    account.updated_at = now
    if fields:
        record_event(db, account.id, "profile.updated", meta, now, fields=fields)
    db.flush()
    for channel in changed:
        issue_code(db, keyring, account, channel, now)
    return changed


# Passwords -------------------------------------------------------------------------------


def _context_words(keyring: Keyring, account: Account) -> list[str]:
    profile = load_profile(keyring, account)
    words = [profile.name, *profile.name.split()]
    if profile.email:
        words.append(profile.email.split("@")[0])
    if account.username:
        words.append(account.username)
    return words


def change_password(
    db: Session,
    keyring: Keyring,
    hasher: PooledHasher,
    account: Account,
    current: str,
    new: str,
    confirm: str,
    meta: RequestMeta | None,
    now: datetime,
) -> None:
    """Raises FormErrors (``current_password`` wrong, or the new one refused)."""
    if not hasher.verify(account.password_hash, current or ""):
        raise FormErrors({"current_password": "password.wrong"})
    problem = password_errors(new, confirm, _context_words(keyring, account))
    if problem:
        raise FormErrors({"new_password": problem})
    account.password_hash = hasher.hash(new)
    account.updated_at = now
    record_event(db, account.id, "password.changed", meta, now)


def reset_password(
    db: Session,
    keyring: Keyring,
    hasher: PooledHasher,
    account: Account,
    code: str,
    new: str,
    confirm: str,
    meta: RequestMeta | None,
    now: datetime,
) -> None:
    """Set a new password after proving the verified contact with a reset code. The caller
    ends every session and revokes refresh tokens in the same transaction.

    Raises:
        FormErrors: ``code`` wrong or expired, or the new password refused. The code is
            checked first, and the password is checked before the code is consumed.
    """
    problem = password_errors(new, confirm, _context_words(keyring, account))
    if problem:
        raise FormErrors({"new_password": problem})
    if not check_code(db, keyring, account, "reset", code, now):
        raise FormErrors({"code": "code.wrong"})
    account.password_hash = hasher.hash(new)
    account.updated_at = now
    record_event(db, account.id, "password.reset", meta, now)
    profile = load_profile(keyring, account)
    channel, recipient = _destination(account, profile, "reset")
    if recipient:
        outbox.enqueue(
            db,
            keyring,
            channel=channel,
            recipient=recipient,
            subject=in_both(N_("e-Gateway password changed"), " / "),
            body=in_both(
                N_(
                    "Your e-Gateway password was reset and every session was signed out. If this was "
                    "not you, contact us at once."
                )
            ),
            now=now,
        )


# Second factor ---------------------------------------------------------------------------


def begin_totp_setup(keyring: Keyring, account: Account) -> str:
    """The pending (unconfirmed) TOTP secret, created on first call and kept until confirmed."""
    if account.totp_secret_encrypted is not None and account.totp_confirmed_at is None:
        return totp_secret(keyring, account) or ""
    secret = totp.new_totp_secret()
    account.totp_secret_encrypted = keyring.fields.encrypt(secret, context=_totp_context(account.id))
    account.totp_confirmed_at = None
    account.totp_last_step = None
    return secret


def totp_label(keyring: Keyring, account: Account) -> str:
    profile = load_profile(keyring, account)
    return profile.email or account.username or "resident"


def confirm_totp(
    db: Session, keyring: Keyring, account: Account, code: str, meta: RequestMeta | None, now: datetime
) -> list[str]:
    """Confirm set-up with a first code; returns ten new recovery codes (shown once).

    Raises:
        FormErrors: ``{"code": "totp.wrong"}``.
    """
    secret = totp_secret(keyring, account)
    if secret is None or account.totp_confirmed_at is not None:
        raise FormErrors({"code": "totp.wrong"})
    step = totp.verify_totp(secret, code, last_used_step=account.totp_last_step, now=now.timestamp())
    if step is None:
        raise FormErrors({"code": "totp.wrong"})
    account.totp_last_step = step
    account.totp_confirmed_at = now
    account.updated_at = now
    record_event(db, account.id, "totp.enabled", meta, now)
    return new_recovery_codes(db, keyring, account, meta, now)


def new_recovery_codes(
    db: Session, keyring: Keyring, account: Account, meta: RequestMeta | None, now: datetime
) -> list[str]:
    repository.delete_recovery_codes(db, account.id)
    codes = totp.generate_recovery_codes(10)
    repository.add_recovery_codes(db, account.id, [keyring.hash_recovery_code(code) for code in codes])
    record_event(db, account.id, "recovery_codes.generated", meta, now)
    return codes


def disable_totp(
    db: Session,
    hasher: PooledHasher,
    account: Account,
    password: str,
    meta: RequestMeta | None,
    now: datetime,
) -> None:
    if not hasher.verify(account.password_hash, password or ""):
        raise FormErrors({"password": "password.wrong"})
    account.totp_secret_encrypted = None
    account.totp_confirmed_at = None
    account.totp_last_step = None
    repository.delete_recovery_codes(db, account.id)
    account.updated_at = now
    record_event(db, account.id, "totp.disabled", meta, now)


def check_second_factor(
    db: Session, keyring: Keyring, account: Account, code: str, meta: RequestMeta | None, now: datetime
) -> str | None:
    """Check a TOTP code or a recovery code; returns "totp" or "recovery_code", or None.

    A TOTP step and a recovery code are each accepted once, also under concurrent requests
    (conditional UPDATEs).
    """
    secret = totp_secret(keyring, account)
    if secret is None or account.totp_confirmed_at is None:
        return None
    compact = "".join((code or "").split())
    if len(compact) == totp.TOTP_DIGITS:
        step = totp.verify_totp(secret, compact, last_used_step=account.totp_last_step, now=now.timestamp())
        if step is not None and repository.claim_totp_step(db, account.id, step):
            return "totp"
        return None
    stored = repository.unused_recovery_codes(db, account.id)
    matched = keyring.match_recovery_code(compact, [row.code_hash for row in stored])
    for row in stored:
        if row.code_hash == matched and repository.use_recovery_code(db, row.id, now):
            left = len(stored) - 1
            record_event(db, account.id, "recovery_code.used", meta, now, remaining=left)
            return "recovery_code"
    return None


def remaining_recovery_codes(db: Session, account_id: str) -> int:
    return len(repository.unused_recovery_codes(db, account_id))
