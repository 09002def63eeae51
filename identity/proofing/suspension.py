"""A proofed holder wins: the self-asserted account that claimed a number is suspended when a
registration officer enrols the number's real holder in person.

Nothing of the old account is merged into the holder's: it is closed and its owner told. It
keeps its ciphertexts (profile, number) for the record, but gives up the blind indexes of
the number and the email address so that the holder's account can take them, and with them
every way to sign in to it (sign-in, password reset and activation all look accounts up
through those indexes; a live browser session of it is refused because it is not active).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.service import RequestMeta
from identity.assurance import PROOFED_LEVELS
from identity.backchannel import service as backchannel
from identity.consent_port import ConsentPort
from identity.devices import service as devices
from identity.proofing import repository
from identity.security.keyring import Keyring
from identity.sessions import service as sessions
from kit.i18n import N_, in_both

WITHDRAWN = "withdrawn"

# msgids of the catalogue, sent in both languages (kit.i18n.in_both)
NOTICE_SUBJECT = N_("e-Gateway account suspended")
NOTICE_BODY = N_(
    "Your e-Gateway account has been suspended: the holder of the identity card number it was "
    "enrolled with has proved at a registration counter that the card is theirs. Every session, "
    "device and consent of the account has ended. If the card is yours, bring it to a "
    "registration counter."
)


class ProofedAccountNotSuspended(Exception):
    """The account's identity was proofed: a number held by a proofed account is not taken
    over at a counter. It needs a different procedure (an investigation of the two proofings)."""


@dataclass(frozen=True)
class Suspension:
    account_id: str
    sessions_ended: int
    tokens_revoked: int
    devices_removed: int
    consents_revoked: int
    owner_notified: bool


def suspend_account(
    db: Session,
    keyring: Keyring,
    consent: ConsentPort,
    account: Account,
    *,
    officer_id: str | None,
    meta: RequestMeta | None,
    now: datetime,
) -> Suspension:
    """Suspend a self-asserted ``account`` whose number a proofed holder won, and end
    everything it could still do: browser sessions, access and refresh tokens, bound
    devices (and their pending approvals), consent grants (so no department receives its
    data again), pending proofing requests. Its owner is told through the outbox; the events
    are recorded on the account and, when an officer acted, on the officer's account.

    Every department that held a session of the account in the last day is owed a
    back-channel logout token (account-wide: ``sub``); the caller's route sends them after its
    response (``identity.backchannel.delivery.deliver_after``), else the retry job does.

    Raises:
        ProofedAccountNotSuspended: the account was proofed (remote or in person).
    """
    if account.identity_level in PROOFED_LEVELS:
        raise ProofedAccountNotSuspended(account.id)
    notified = accounts.notify(
        db, keyring, account, subject=in_both(NOTICE_SUBJECT, " / "), body=in_both(NOTICE_BODY), now=now
    )
    account.status = accounts.SUSPENDED
    account.hkid_index = None
    account.email_index = None
    account.updated_at = now
    db.flush()  # the indexes are free before the holder's account takes them
    ended = sessions.end_all_sessions(db, account.id, now)
    revoked = sessions.revoke_tokens(db, account.id, now)
    backchannel.announce_logout(db, account.id, None, now, backchannel.ACCOUNT_SUSPENDED)
    removed = 0
    for device in devices.list_devices(db, account.id):
        removed += devices.remove_device(db, now, account_id=account.id, device_id=device.id, meta=meta)
    grants = consent.list_grants(db, account.id)
    for grant in grants:
        consent.revoke_grant(db, account.id, grant.grant_id, now, by="suspension")
    pending = repository.pending_of_account(db, account.id)
    if pending is not None:
        pending.status = WITHDRAWN
        pending.decided_at = now
    result = Suspension(account.id, ended, revoked, removed, len(grants), notified)
    accounts.record_event(
        db,
        account.id,
        "account.suspended",
        meta,
        now,
        reason="holder_proofed",
        sessions=ended,
        tokens=revoked,
        devices=removed,
        consents=len(grants),
    )
    if officer_id is not None:
        accounts.record_event(db, officer_id, "registration.suspended", meta, now, account=account.id)
    return result
