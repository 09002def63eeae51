"""`egate forms ...`: load definitions from files, list them, retire a form, set the hub's
client registration with the provider, purge expired drafts, seal attachments stored in clear
by an older version, send licence reminders and queued emails."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forms_hub.attachments.storage import sealed, storage_for
from forms_hub.attachments.upgrade import seal_legacy_files
from forms_hub.definitions import repository
from forms_hub.definitions.service import DefinitionError, Loaded, retire
from forms_hub.demo import load_directory
from forms_hub.licences.service import send_expiry_reminders
from forms_hub.oidc_client.service import set_client_credentials
from forms_hub.submissions.outbox import deliver_pending, delivery_for
from forms_hub.submissions.service import purge_expired_drafts
from kit.db import session_scope
from kit.runtime import Runtime
from kit.settings import Settings


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"egate: {directory} is not a directory", file=sys.stderr)
        return 2
    runtime = Runtime.build(settings)
    results: list[tuple[Path, Loaded]] = []
    try:
        for db in session_scope(runtime.sessions):
            results = load_directory(db, directory, runtime.clock(), publish=not args.no_publish)
    except DefinitionError as exc:
        print(f"egate: {exc} Nothing was loaded.", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    for path, result in results:
        what = "new version" if result.created else "unchanged"
        state = result.definition.status
        print(f"{path.name}: {result.definition.slug} v{result.definition.version} ({what}, {state})")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    for db in session_scope(runtime.sessions):
        for d in repository.list_versions(db, department=args.department):
            print(f"{d.department}\t{d.slug}\tv{d.version}\t{d.status}\t{d.title_en}")
    return 0


def cmd_retire(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    try:
        for db in session_scope(runtime.sessions):
            definition = retire(db, args.slug, runtime.clock())
    except DefinitionError as exc:
        print(f"egate: {exc}", file=sys.stderr)
        return 2
    print(f"retired {definition.slug} (last version v{definition.version})")
    return 0


def cmd_client(args: argparse.Namespace, settings: Settings) -> int:
    secret = Path(args.secret_file).read_text().strip() if args.secret_file else sys.stdin.readline().strip()
    if not secret:
        print("egate: give the client secret on standard input or with --secret-file", file=sys.stderr)
        return 2
    runtime = Runtime.build(settings)
    for db in session_scope(runtime.sessions):
        set_client_credentials(db, runtime.master_key, args.client_id, secret, runtime.clock())
    print(f"the forms hub signs in as {args.client_id}; redirect URI {settings.issuer}/forms/auth/callback")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    storage = storage_for(settings)
    for db in session_scope(runtime.sessions):
        count = purge_expired_drafts(db, storage, runtime.clock())
    print(f"purged {count} expired draft(s)")
    return 0


def cmd_seal_attachments(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    count = seal_legacy_files(runtime.sessions, sealed(storage_for(settings), runtime.master_key))
    print(f"sealed {count} attachment(s) stored before sealing at rest")
    return 0


def cmd_remind(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    for db in session_scope(runtime.sessions):
        count = send_expiry_reminders(db, runtime.clock())
    print(f"sent {count} licence expiry reminder(s)")
    return 0


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    delivery = delivery_for(settings)
    for db in session_scope(runtime.sessions):
        count = deliver_pending(db, runtime.master_key, delivery, runtime.clock())
    print(f"delivered {count} email(s) with the {settings.mail_backend} backend")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this service's subcommands to the `egate` parser."""
    forms = commands.add_parser("forms", help="the forms hub: definitions, client, housekeeping")
    actions = forms.add_subparsers(dest="forms_action", required=True)

    load = actions.add_parser("load", help="load (and publish) every *.json form definition in DIR")
    load.add_argument("directory", metavar="DIR")
    load.add_argument("--no-publish", action="store_true", help="store new versions without publishing them")
    load.set_defaults(handler=cmd_load)

    listing = actions.add_parser("list", help="list form definitions and their versions")
    listing.add_argument("--department")
    listing.set_defaults(handler=cmd_list)

    retire = actions.add_parser("retire", help="stop offering a form")
    retire.add_argument("slug")
    retire.set_defaults(handler=cmd_retire)

    client = actions.add_parser("client", help="set the hub's client registration with the provider")
    client.add_argument("--client-id", required=True)
    client.add_argument("--secret-file", help="file holding the client secret (default: read stdin)")
    client.set_defaults(handler=cmd_client)

    purge = actions.add_parser("purge-drafts", help="delete drafts past their expiry")
    purge.set_defaults(handler=cmd_purge)

    seal = actions.add_parser(
        "seal-attachments", help="seal files stored in clear by an older version (once)"
    )
    seal.set_defaults(handler=cmd_seal_attachments)

    remind = actions.add_parser("remind", help="notify holders of licences about to expire (run daily)")
    remind.set_defaults(handler=cmd_remind)

    outbox = actions.add_parser("outbox", help="send queued status-change emails (run every minute)")
    outbox.set_defaults(handler=cmd_outbox)
