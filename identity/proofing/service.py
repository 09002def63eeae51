"""Identity proofing: a resident's request for remote proofing, a registration officer's
decision on it, proofing in person at a counter, and enrolment at a counter.

Rules kept here, whichever door (pages, CLI) an action comes through:

* an account's identity level only rises, and only through an approved proofing
  (:func:`_approve`), which seals what the officer checked against the card
  (``verified_claims`` come from that snapshot, never from the profile);
* only an active staff account holding the ``registrar`` role acts as an officer, and every
  action of theirs, lookups included, is an event on their own account; every decision is
  also an event on the resident's;
* proofing an existing account in person needs the account's counter code, read out by the
  person at the counter: seeing a card is not enough to take over someone's account;
* a number held by a self-asserted account goes to its proofed holder (suspension.py).

Services never commit: the request or the CLI command does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.schemas import CounterEnrolment, FormErrors
from identity.accounts.service import RequestMeta
from identity.assurance import IAL_IN_PERSON, IAL_ORDER, IAL_REMOTE, IAL_SELF_ASSERTED, PROOFED_LEVELS
from identity.claims import REGISTRAR
from identity.consent_port import ConsentPort
from identity.proofing import repository
from identity.proofing.evidence import EvidenceRefused, EvidenceStore, inspect_image
from identity.proofing.models import IdentityProofing
from identity.proofing.schemas import CheckedValues, clean_reason
from identity.proofing.suspension import ProofedAccountNotSuspended, Suspension, suspend_account
from identity.proofing.verified import seal_verified_claims
from identity.residents.hkid import InvalidHKID, normalise_hkid
from identity.security.keyring import Keyring
from kit.i18n import N_, in_both

PENDING, APPROVED, REJECTED, WITHDRAWN = "pending", "approved", "rejected", "withdrawn"
VPIP, VRI = "vpip", "vri"  # OIDC4IDA check methods: card seen in person; image checked remotely
IDCARD = "idcard"
COUNTER_CODE = "counter"
COUNTER_CODE_TTL = timedelta(minutes=10)
COUNTER_CODE_DIGITS = 8


class NotRegistrar(Exception):
    """The acting account is not an active staff account with the registrar role."""


def new_proofing_id() -> str:
    return secrets.token_hex(16)


def is_registrar(account: Account | None) -> bool:
    return (
        account is not None
        and account.kind == accounts.STAFF
        and account.status == accounts.ACTIVE
        and REGISTRAR in (account.roles or [])
    )


def require_registrar(officer: Account) -> None:
    if not is_registrar(officer):
        raise NotRegistrar(officer.id)


def raise_level(account: Account, level: str) -> bool:
    """Raise ``account.identity_level`` to ``level``; never lowers it. True when it rose."""
    current = account.identity_level if account.identity_level in IAL_ORDER else IAL_SELF_ASSERTED
    if IAL_ORDER.index(level) <= IAL_ORDER.index(current):
        return False
    account.identity_level = level
    return True


# The resident's side ---------------------------------------------------------------------


def history(db: Session, account_id: str) -> list[IdentityProofing]:
    return list(repository.of_account(db, account_id))


def pending_request(db: Session, account_id: str) -> IdentityProofing | None:
    return repository.pending_of_account(db, account_id)


def request_remote(
    db: Session,
    store: EvidenceStore,
    account: Account,
    data: bytes,
    media_type: str,
    meta: RequestMeta | None,
    now: datetime,
) -> IdentityProofing:
    """A self-asserted resident asks for remote proofing with an image of their card.

    Raises:
        FormErrors: ``{"evidence": code}``: the account cannot ask (already proofed, a
            request already waiting) or the image is refused (evidence.EvidenceRefused).
    """
    if account.kind != accounts.RESIDENT or account.identity_level != IAL_SELF_ASSERTED:
        raise FormErrors({"evidence": "evidence.not_needed"})
    if repository.pending_of_account(db, account.id) is not None:
        raise FormErrors({"evidence": "evidence.pending"})
    try:
        real_type = inspect_image(data, media_type)
    except EvidenceRefused as exc:
        raise FormErrors({"evidence": exc.code}) from None
    stored = store.put(data)
    proofing = IdentityProofing(
        id=new_proofing_id(),
        account_id=account.id,
        level=IAL_REMOTE,
        check_method=VRI,
        document_type=IDCARD,
        status=PENDING,
        requested_at=now,
        evidence_path=stored.key,
        evidence_sha256=stored.sha256,
        evidence_content_type=real_type,
    )
    repository.add(db, proofing)
    accounts.record_event(db, account.id, "identity.proofing_requested", meta, now)
    return proofing


def withdraw_request(db: Session, account: Account, meta: RequestMeta | None, now: datetime) -> bool:
    proofing = repository.pending_of_account(db, account.id)
    if proofing is None:
        return False
    proofing.status = WITHDRAWN
    proofing.decided_at = now
    accounts.record_event(db, account.id, "identity.proofing_withdrawn", meta, now)
    return True


def issue_counter_code(
    db: Session, keyring: Keyring, account: Account, now: datetime
) -> tuple[str, datetime]:
    """A code the resident reads out to the officer at a counter, proving that the person
    with the card controls this account. Shown once; only its keyed digest is kept; it
    expires in ten minutes, works once and dies after five wrong tries."""
    code = accounts.new_private_code(
        db, keyring, account, COUNTER_CODE, COUNTER_CODE_TTL, now, digits=COUNTER_CODE_DIGITS
    )
    return code, now + COUNTER_CODE_TTL


# The registration officer's side -----------------------------------------------------------


def queue(db: Session, officer: Account) -> list[tuple[IdentityProofing, Account]]:
    """Pending remote requests, oldest first, each with its resident's account."""
    require_registrar(officer)
    rows = []
    for proofing in repository.pending(db):
        account = accounts_repository.get(db, proofing.account_id)
        if account is not None:
            rows.append((proofing, account))
    return rows


def get_resident(db: Session, officer: Account, account_id: str) -> Account | None:
    """A resident account by id, for an action the officer is about to take (recorded then)."""
    require_registrar(officer)
    account = accounts_repository.get(db, account_id)
    return account if account is not None and account.kind == accounts.RESIDENT else None


def get_request(db: Session, officer: Account, proofing_id: str) -> IdentityProofing | None:
    """A proofing by id, for a decision the officer is about to take (recorded then)."""
    require_registrar(officer)
    return repository.get(db, proofing_id)


def resident_of(db: Session, officer: Account, proofing: IdentityProofing) -> Account | None:
    return get_resident(db, officer, proofing.account_id)


def lookup(
    db: Session, keyring: Keyring, officer: Account, hkid: str, meta: RequestMeta | None, now: datetime
) -> Account | None:
    """The resident account holding ``hkid``, recorded on the officer's account either way.

    Raises:
        FormErrors: ``{"hkid": ...}`` for a malformed number.
    """
    require_registrar(officer)
    canonical = _canonical(hkid)
    account = accounts_repository.by_hkid_index(db, keyring.hkid_digest(canonical))
    if account is not None and account.kind != accounts.RESIDENT:
        account = None
    found = account.id if account is not None else None
    accounts.record_event(db, officer.id, "registration.lookup", meta, now, account=found)
    return account


def view_account(
    db: Session, officer: Account, account_id: str, meta: RequestMeta | None, now: datetime
) -> Account | None:
    """A resident's account for the officer's page, the look recorded on the officer's account."""
    account = get_resident(db, officer, account_id)
    if account is not None:
        accounts.record_event(db, officer.id, "registration.viewed", meta, now, account=account.id)
    return account


def view_request(
    db: Session, officer: Account, proofing_id: str, meta: RequestMeta | None, now: datetime
) -> IdentityProofing | None:
    proofing = get_request(db, officer, proofing_id)
    if proofing is not None:
        accounts.record_event(db, officer.id, "registration.viewed", meta, now, proofing=proofing.id)
    return proofing


def evidence_of(
    db: Session,
    store: EvidenceStore,
    officer: Account,
    proofing_id: str,
    meta: RequestMeta | None,
    now: datetime,
) -> tuple[bytes, str] | None:
    """The evidence image and its media type, for an officer; None when there is none.

    Raises:
        evidence.EvidenceDamaged: the stored file is not the one recorded.
    """
    require_registrar(officer)
    proofing = repository.get(db, proofing_id)
    if proofing is None or not proofing.evidence_path or not proofing.evidence_sha256:
        return None
    data = store.get(proofing.evidence_path, proofing.evidence_sha256)
    accounts.record_event(db, officer.id, "registration.evidence_viewed", meta, now, proofing=proofing.id)
    return data, proofing.evidence_content_type or "application/octet-stream"


def approve_request(
    db: Session,
    keyring: Keyring,
    officer: Account,
    proofing_id: str,
    values: CheckedValues,
    meta: RequestMeta | None,
    now: datetime,
) -> IdentityProofing:
    """Approve a pending remote request with the values as the officer read them on the card.

    Raises:
        FormErrors: ``{"request": "proofing.not_pending"}`` (decided meanwhile, or unknown),
            ``{"hkid": "proofing.hkid_mismatch"}`` (the card is not this account's number).
    """
    require_registrar(officer)
    proofing = repository.get_for_update(db, proofing_id)
    if proofing is None or proofing.status != PENDING:
        raise FormErrors({"request": "proofing.not_pending"})
    account = accounts_repository.get(db, proofing.account_id)
    if account is None or account.status != accounts.ACTIVE:
        raise FormErrors({"request": "proofing.not_pending"})
    _same_number(keyring, account, values)
    _approve(db, keyring, officer, account, proofing, values, meta, now)
    return proofing


def reject_request(
    db: Session,
    keyring: Keyring,
    officer: Account,
    proofing_id: str,
    reason: str,
    meta: RequestMeta | None,
    now: datetime,
) -> IdentityProofing:
    """Refuse a pending request; the resident sees ``reason`` on their identity page and is
    told by email or SMS (which says only that there is a decision to read).

    Raises:
        FormErrors: ``{"reason": ...}`` or ``{"request": "proofing.not_pending"}``.
    """
    require_registrar(officer)
    text = clean_reason(reason)
    proofing = repository.get_for_update(db, proofing_id)
    if proofing is None or proofing.status != PENDING:
        raise FormErrors({"request": "proofing.not_pending"})
    proofing.status = REJECTED
    proofing.reason = text
    proofing.officer_id = officer.id
    proofing.decided_at = now
    accounts.record_event(db, proofing.account_id, "identity.proofing_rejected", meta, now)
    accounts.record_event(db, officer.id, "registration.rejected", meta, now, proofing=proofing.id)
    account = accounts_repository.get(db, proofing.account_id)
    if account is not None:
        accounts.notify(
            db,
            keyring,
            account,
            subject=in_both(REJECTED_SUBJECT, " / "),
            body=in_both(REJECTED_BODY),
            now=now,
        )
    return proofing


def proof_in_person(
    db: Session,
    keyring: Keyring,
    officer: Account,
    account: Account,
    counter_code: str,
    values: CheckedValues,
    meta: RequestMeta | None,
    now: datetime,
    *,
    notify: bool = True,
) -> IdentityProofing:
    """The officer saw the card of the person at the counter, who read out the account's
    counter code: the account is proofed in person (and its owner told, unless ``notify`` is
    off: demo seeding).

    Raises:
        FormErrors: ``{"counter_code": ...}`` (missing, wrong, expired or used),
            ``{"hkid": "proofing.hkid_mismatch"}``, ``{"request": ...}`` (not an active
            resident account).
    """
    require_registrar(officer)
    if account.kind != accounts.RESIDENT or account.status != accounts.ACTIVE:
        raise FormErrors({"request": "proofing.not_active"})
    _same_number(keyring, account, values)
    if not counter_code.strip():
        raise FormErrors({"counter_code": "counter_code.required"})
    if not accounts.check_code(db, keyring, account, COUNTER_CODE, counter_code, now):
        raise FormErrors({"counter_code": "counter_code.wrong"})
    waiting = repository.pending_of_account(db, account.id)
    if waiting is not None:  # a remote request is overtaken by this stronger proofing
        waiting.status = WITHDRAWN
        waiting.decided_at = now
    proofing = _in_person_proofing(account, now)
    repository.add(db, proofing)
    _approve(db, keyring, officer, account, proofing, values, meta, now, notify=notify)
    return proofing


@dataclass(frozen=True)
class CounterEnrolled:
    account: Account
    proofing: IdentityProofing
    activation_code: str  # shown once to the officer; also sent to the resident's contacts
    suspended: Suspension | None


def enrol_in_person(
    db: Session,
    keyring: Keyring,
    consent: ConsentPort,
    officer: Account,
    enrolment: CounterEnrolment,
    meta: RequestMeta | None,
    now: datetime,
    *,
    suspend_claimant: bool = False,
) -> CounterEnrolled:
    """Enrol the holder of the card at the counter, proofed in person, without a password
    (the resident sets one at /activate with the code this returns).

    When a self-asserted account already claims the number (and the person could not give
    its counter code, else the officer would proof that account instead), the holder wins:
    with ``suspend_claimant`` that account is suspended (suspension.py) first.

    Raises:
        FormErrors: ``{"hkid": "registration.number_claimed"}`` (a self-asserted account
            holds the number and ``suspend_claimant`` is not set),
            ``{"hkid": "registration.holder_proofed"}`` (a proofed account holds it: another
            procedure), ``{"email": "email.taken"}``, or a field refused.
    """
    require_registrar(officer)
    claimant = accounts_repository.by_hkid_index(db, keyring.hkid_digest(enrolment.hkid))
    if claimant is not None:
        if claimant.kind != accounts.RESIDENT or claimant.identity_level in PROOFED_LEVELS:
            raise FormErrors({"hkid": "registration.holder_proofed"})
        if not suspend_claimant:
            raise FormErrors({"hkid": "registration.number_claimed"})
        if enrolment.email:
            _email_free_or_claimants(db, keyring, enrolment.email, claimant)
    # All or nothing: a refusal below must not leave the claimant suspended.
    with db.begin_nested():
        suspension = None
        if claimant is not None:
            try:
                suspension = suspend_account(
                    db, keyring, consent, claimant, officer_id=officer.id, meta=meta, now=now
                )
            except ProofedAccountNotSuspended:
                raise FormErrors({"hkid": "registration.holder_proofed"}) from None
        account = accounts.enrol_at_counter(db, keyring, enrolment, now)
        proofing = _in_person_proofing(account, now)
        repository.add(db, proofing)
        values = CheckedValues(
            hkid=enrolment.hkid,
            name=enrolment.name,
            name_zh=enrolment.name_zh,
            birthdate=enrolment.birthdate,
            gender=enrolment.gender,
        )
        _approve(db, keyring, officer, account, proofing, values, meta, now, notify=False)
        accounts.record_event(db, officer.id, "registration.enrolled", meta, now, account=account.id)
        code = accounts.issue_activation_code(db, keyring, account, now)
    return CounterEnrolled(account, proofing, code, suspension)


# Helpers ------------------------------------------------------------------------------------

# msgids of the catalogue, sent in both languages (kit.i18n.in_both)
APPROVED_SUBJECT = N_("e-Gateway identity verified")
APPROVED_BODY = N_(
    "A registration officer has verified your identity against your identity card. Your "
    "e-Gateway account shows the details that were checked. If you did not ask for this, "
    "contact us at once."
)
REJECTED_SUBJECT = N_("e-Gateway identity verification")
REJECTED_BODY = N_(
    "A registration officer could not verify your identity from the image you sent. Sign in to "
    "e-Gateway and open 'Your identity' to see why and what to do next."
)


def _canonical(hkid: str) -> str:
    try:
        return normalise_hkid(hkid or "")
    except InvalidHKID as exc:
        raise FormErrors(
            {"hkid": "hkid.required" if not (hkid or "").strip() else f"hkid.{exc.reason}"}
        ) from None


def _in_person_proofing(account: Account, now: datetime) -> IdentityProofing:
    return IdentityProofing(
        id=new_proofing_id(),
        account_id=account.id,
        level=IAL_IN_PERSON,
        check_method=VPIP,
        document_type=IDCARD,
        status=PENDING,  # _approve decides it in the same transaction
        requested_at=now,
    )


def _same_number(keyring: Keyring, account: Account, values: CheckedValues) -> None:
    if accounts.account_hkid(keyring, account) != values.hkid:
        raise FormErrors({"hkid": "proofing.hkid_mismatch"})


def _email_free_or_claimants(db: Session, keyring: Keyring, email: str, claimant: Account) -> None:
    holder = accounts_repository.by_email_index(db, keyring.email_digest(email))
    if holder is not None and holder.id != claimant.id:
        raise FormErrors({"email": "email.taken"})


def _approve(
    db: Session,
    keyring: Keyring,
    officer: Account,
    account: Account,
    proofing: IdentityProofing,
    values: CheckedValues,
    meta: RequestMeta | None,
    now: datetime,
    *,
    notify: bool = True,
) -> None:
    """Seal the checked values on the proofing, set the profile's identity fields to them,
    raise the account's level (never lower it) and record the events on both accounts."""
    seal_verified_claims(keyring, proofing, values.as_claims())
    proofing.status = APPROVED
    proofing.officer_id = officer.id
    proofing.decided_at = now
    changed = accounts.update_identity_fields(
        keyring,
        account,
        name=values.name,
        name_zh=values.name_zh,
        birthdate=values.birthdate.isoformat(),
        gender=values.gender,
        now=now,
    )
    raise_level(account, proofing.level)
    accounts.record_event(
        db,
        account.id,
        "identity.proofed",
        meta,
        now,
        level=proofing.level,
        method=proofing.check_method,
        corrected=changed,
    )
    accounts.record_event(
        db, officer.id, "registration.proofed", meta, now, account=account.id, proofing=proofing.id
    )
    if notify:
        accounts.notify(
            db,
            keyring,
            account,
            subject=in_both(APPROVED_SUBJECT, " / "),
            body=in_both(APPROVED_BODY),
            now=now,
        )
