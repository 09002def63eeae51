"""`egate staff create`, `egate field-keys rotate`, `egate outbox deliver`."""

from __future__ import annotations

import argparse
import getpass
import sys

from identity.accounts.schemas import FormErrors
from identity.accounts.service import create_staff, rotate_field_encryption
from identity.claims import STAFF_ROLES
from identity.db import unit_of_work
from identity.messaging.delivery import deliver_pending, delivery_for
from identity.security.hashing import hasher_for
from identity.security.keyring import Keyring, build_keyring
from identity.web.messages import message_for
from kit.runtime import Runtime
from kit.settings import Settings


def _keyring(runtime: Runtime) -> Keyring:
    return build_keyring(runtime.master_key, runtime.settings.field_key_generation)


def cmd_staff_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password for the new staff account: ")
        if getpass.getpass("Type it again: ") != password:
            print("egate: the two passwords do not match", file=sys.stderr)
            return 2
    runtime = Runtime.build(settings)
    try:
        with unit_of_work(runtime.sessions) as db:
            account = create_staff(
                db,
                _keyring(runtime),
                hasher_for(settings),
                username=args.username,
                password=password,
                department=args.department,
                roles=args.role,
                name=args.name,
                now=runtime.clock(),
            )
    except FormErrors as exc:
        for field, code in exc.errors.items():
            print(f"egate: {field}: {message_for(code)}", file=sys.stderr)
        return 2
    print(f"created staff account {account.username} ({', '.join(account.roles)}, {account.department})")
    return 0


def cmd_rotate_fields(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    with unit_of_work(runtime.sessions) as db:
        changed = rotate_field_encryption(db, _keyring(runtime))
    print(f"re-encrypted {changed} rows under field key generation {settings.field_key_generation}")
    return 0


def cmd_outbox_deliver(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    sent = deliver_pending(runtime.sessions, _keyring(runtime), delivery_for(settings), runtime.clock)
    print(f"delivered {sent} messages")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser("staff", help="staff accounts (officers, auditors, admins)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_commands.add_parser("create", help="create a staff account")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True, help="display name")
    create.add_argument("--department", required=True, help="e.g. TD, IRD, HD")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=STAFF_ROLES,
        help="repeat for several roles",
    )
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(handler=cmd_staff_create)

    keys = commands.add_parser("field-keys", help="encryption keys of personal-data fields")
    key_commands = keys.add_subparsers(dest="field_keys_command", required=True)
    rotate = key_commands.add_parser(
        "rotate",
        help="re-encrypt personal-data fields under EGATE_FIELD_KEY_GENERATION (after raising it)",
    )
    rotate.set_defaults(handler=cmd_rotate_fields)

    outbox = commands.add_parser("outbox", help="email/SMS outbox")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    deliver = outbox_commands.add_parser("deliver", help="deliver queued messages now")
    deliver.set_defaults(handler=cmd_outbox_deliver)
