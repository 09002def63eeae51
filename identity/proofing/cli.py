"""`egate registration ...`: what a registration officer does at the pages, from the command
line, through the same service (and so the same rules and the same audit events). The acting
officer is named by user name and must hold the ``registrar`` role."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.models import Account
from identity.accounts.schemas import CounterEnrolment, FormErrors
from identity.consent_port import ConsentPort
from identity.db import unit_of_work
from identity.proofing import service as proofing
from identity.proofing.schemas import CheckedValues
from identity.security.keyring import Keyring, build_keyring
from identity.web.messages import message_for
from kit.i18n import HONG_KONG, hong_kong_time
from kit.runtime import Runtime
from kit.settings import Settings

ConsentFactory = Callable[[Runtime], ConsentPort]


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _officer(db: Session, username: str) -> Account:
    officer = accounts_repository.by_username(db, (username or "").strip().lower())
    if officer is None or not proofing.is_registrar(officer):
        raise _Refused(f"{username!r} is not an active staff account with the registrar role")
    return officer


def _print_errors(errors: dict[str, str]) -> int:
    for field, code in errors.items():
        print(f"egate: {field}: {message_for(code)}", file=sys.stderr)
    return 2


def _describe(db: Session, keyring: Keyring, account: Account) -> None:
    profile = accounts.load_profile(keyring, account)
    print(f"account {account.id}")
    print(f"  name:     {profile.name}{' ' + profile.name_zh if profile.name_zh else ''}")
    print(f"  number:   {accounts.formatted_hkid(keyring, account)}")
    print(f"  level:    {account.identity_level}")
    print(
        f"  status:   {account.status}{'' if accounts.has_usable_password(account) else ' (not activated)'}"
    )
    for row in proofing.history(db, account.id):
        reason = f": {row.reason}" if row.reason else ""
        when = hong_kong_time(row.requested_at)
        print(f"  proofing {row.id} {when} {row.level} {row.check_method} {row.status}{reason}")


def _card_values(keyring: Keyring, account: Account, args: argparse.Namespace, today: date) -> CheckedValues:
    """The account's identity fields, with what the officer corrected from the card."""
    profile = accounts.load_profile(keyring, account)
    form = {
        "hkid": accounts.account_hkid(keyring, account) or "",
        "name": args.name or profile.name,
        "name_zh": args.name_zh if args.name_zh is not None else (profile.name_zh or ""),
        "birthdate": args.birthdate or profile.birthdate or "",
        "gender": args.gender or profile.gender or "",
    }
    return CheckedValues.parse(form, today)


def _run(settings: Settings, action: Callable[[Session, Runtime, Keyring], int]) -> int:
    runtime = Runtime.build(settings)
    keyring = build_keyring(runtime.master_key, settings.field_key_generation)
    try:
        with unit_of_work(runtime.sessions) as db:
            return action(db, runtime, keyring)
    except _Refused as exc:
        print(f"egate: {exc.message}", file=sys.stderr)
        return 2


def cmd_lookup(args: argparse.Namespace, settings: Settings) -> int:
    def action(db: Session, runtime: Runtime, keyring: Keyring) -> int:
        officer = _officer(db, args.officer)
        try:
            account = proofing.lookup(db, keyring, officer, args.hkid, None, runtime.clock())
        except FormErrors as exc:
            return _print_errors(exc.errors)
        if account is None:
            print("no account holds this number")
            return 1
        _describe(db, keyring, account)
        return 0

    return _run(settings, action)


def cmd_queue(args: argparse.Namespace, settings: Settings) -> int:
    def action(db: Session, runtime: Runtime, keyring: Keyring) -> int:
        officer = _officer(db, args.officer)
        for row, account in proofing.queue(db, officer):
            name = accounts.load_profile(keyring, account).name
            number = accounts.formatted_hkid(keyring, account)
            print(f"{row.id}  {hong_kong_time(row.requested_at)}  {number}  {name}")
        return 0

    return _run(settings, action)


def cmd_proof(args: argparse.Namespace, settings: Settings) -> int:
    def action(db: Session, runtime: Runtime, keyring: Keyring) -> int:
        officer = _officer(db, args.officer)
        now = runtime.clock()
        today = now.astimezone(HONG_KONG).date()
        try:
            if args.request:
                row = proofing.get_request(db, officer, args.request)
                account = proofing.resident_of(db, officer, row) if row is not None else None
                if row is None or account is None:
                    raise _Refused("no such request")
                values = _card_values(keyring, account, args, today)
                proofing.approve_request(db, keyring, officer, row.id, values, None, now)
            else:
                account = proofing.lookup(db, keyring, officer, args.hkid, None, now)
                if account is None:
                    raise _Refused("no account holds this number: enrol the resident instead")
                values = _card_values(keyring, account, args, today)
                proofing.proof_in_person(db, keyring, officer, account, args.counter_code, values, None, now)
        except FormErrors as exc:
            return _print_errors(exc.errors)  # a wrong counter code still counts (committed)
        print(f"account {account.id} is now {account.identity_level}")
        return 0

    return _run(settings, action)


def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    def action(db: Session, runtime: Runtime, keyring: Keyring) -> int:
        officer = _officer(db, args.officer)
        try:
            proofing.reject_request(db, keyring, officer, args.request, args.reason, None, runtime.clock())
        except FormErrors as exc:
            return _print_errors(exc.errors)
        print(f"request {args.request} refused; the resident will be told (egate outbox deliver)")
        return 0

    return _run(settings, action)


def cmd_enrol(args: argparse.Namespace, settings: Settings, consent: ConsentFactory) -> int:
    def action(db: Session, runtime: Runtime, keyring: Keyring) -> int:
        officer = _officer(db, args.officer)
        now = runtime.clock()
        form = {
            "hkid": args.hkid,
            "name": args.name,
            "name_zh": args.name_zh or "",
            "birthdate": args.birthdate,
            "gender": args.gender,
            "phone": args.phone or "",
            "email": args.email or "",
        }
        try:
            enrolment = CounterEnrolment.parse(form, now.astimezone(HONG_KONG).date())
            enrolled = proofing.enrol_in_person(
                db,
                keyring,
                consent(runtime),
                officer,
                enrolment,
                None,
                now,
                suspend_claimant=args.suspend_claimant,
            )
        except FormErrors as exc:
            if exc.errors.get("hkid") == "registration.number_claimed":
                print("egate: add --suspend-claimant once you have checked the card", file=sys.stderr)
            return _print_errors(exc.errors)
        if enrolled.suspended is not None:
            print(f"suspended account {enrolled.suspended.account_id}, which had claimed this number")
        print(f"enrolled account {enrolled.account.id} ({enrolled.account.identity_level})")
        print(f"activation code (shown once): {enrolled.activation_code}")
        return 0

    return _run(settings, action)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], consent: ConsentFactory) -> None:
    """``consent`` builds the consent port from the runtime (suspending a claimant's account
    revokes its consents); the composition root provides it."""
    registration = commands.add_parser("registration", help="identity proofing by registration officers")
    sub = registration.add_subparsers(dest="registration_command", required=True)

    def officer(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--officer", required=True, help="user name of the acting registration officer")

    def card(parser: argparse.ArgumentParser, *, required: bool) -> None:
        parser.add_argument("--name", required=required, help="English name as on the card")
        parser.add_argument("--name-zh", help="Chinese name as on the card")
        parser.add_argument("--birthdate", required=required, help="YYYY-MM-DD")
        parser.add_argument("--gender", required=required, choices=("female", "male", "other"))

    lookup = sub.add_parser("lookup", help="look a resident up by identity card number")
    officer(lookup)
    lookup.add_argument("--hkid", required=True)
    lookup.set_defaults(handler=cmd_lookup)

    queue = sub.add_parser("queue", help="pending remote proofing requests")
    officer(queue)
    queue.set_defaults(handler=cmd_queue)

    proof = sub.add_parser(
        "proof", help="approve a remote request, or proof an account in person with its counter code"
    )
    officer(proof)
    target = proof.add_mutually_exclusive_group(required=True)
    target.add_argument("--request", help="id of the remote request to approve")
    target.add_argument("--hkid", help="identity card number of the account to proof in person")
    proof.add_argument("--counter-code", default="", help="the code the resident reads out (in person)")
    card(proof, required=False)
    proof.set_defaults(handler=cmd_proof)

    reject = sub.add_parser("reject", help="refuse a remote request")
    officer(reject)
    reject.add_argument("--request", required=True)
    reject.add_argument("--reason", required=True, help="shown to the resident")
    reject.set_defaults(handler=cmd_reject)

    enrol = sub.add_parser("enrol", help="enrol a resident in person (prints the activation code once)")
    officer(enrol)
    enrol.add_argument("--hkid", required=True)
    card(enrol, required=True)
    enrol.add_argument("--phone")
    enrol.add_argument("--email")
    enrol.add_argument(
        "--suspend-claimant",
        action="store_true",
        help="the card's holder wins: suspend a self-asserted account that claimed the number",
    )
    enrol.set_defaults(handler=lambda args, settings: cmd_enrol(args, settings, consent))
