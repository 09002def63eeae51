"""`egate logout-deliveries list [--failed] | retry (ID ... | --all-failed) | deliver`: the
logout tokens owed to departments, for operators. `deliver` is the retry job: run it every
minute (cron, a systemd timer) so that deliveries a request could not make are retried."""

from __future__ import annotations

import argparse
import sys

from identity.backchannel import service
from identity.backchannel.delivery import logout_courier_for
from identity.db import unit_of_work
from kit.runtime import Runtime
from kit.settings import Settings


def _when(moment: object) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    with unit_of_work(runtime.sessions) as db:
        rows = service.deliveries(db, failed_only=args.failed, limit=args.limit)
    print("id\tstate\tattempts\tclient\treason\tsession\tcreated\tnext attempt\tlast error")
    for row in rows:
        names = "sid" if row.names_session else "all"
        print(
            f"{row.id}\t{row.state}\t{row.attempts}\t{row.client_id}\t{row.reason}\t{names}\t"
            f"{_when(row.created_at)}\t{_when(row.next_attempt_at)}\t{row.last_error or '-'}"
        )
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and not args.all_failed:
        print("egate: name the deliveries to retry, or --all-failed", file=sys.stderr)
        return 2
    runtime = Runtime.build(settings)
    with unit_of_work(runtime.sessions) as db:
        now = runtime.clock()
        if args.all_failed:
            queued = service.retry_all_failed(db, now)
        else:
            refused = [i for i in args.ids if not service.retry(db, i, now)]
            if refused:
                db.rollback()
                print(f"egate: not failed deliveries: {' '.join(map(str, refused))}", file=sys.stderr)
                return 1
            queued = len(args.ids)
    outcomes = logout_courier_for(runtime).deliver_due()
    delivered = sum(outcome.error is None for outcome in outcomes)
    print(f"queued {queued} again; delivered {delivered} of {len(outcomes)} attempted now")
    return 0


def cmd_deliver(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    outcomes = logout_courier_for(runtime).deliver_due()
    delivered = sum(outcome.error is None for outcome in outcomes)
    print(f"delivered {delivered} of {len(outcomes)} logout tokens due")
    return 0 if delivered == len(outcomes) else 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("logout-deliveries", help="back-channel logout tokens owed to departments")
    actions = parser.add_subparsers(dest="logout_deliveries_action", required=True)
    listing = actions.add_parser("list", help="recent deliveries, newest first")
    listing.add_argument("--failed", action="store_true", help="only those given up")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=cmd_list)
    retry = actions.add_parser("retry", help="try failed deliveries again, with a fresh token")
    retry.add_argument("ids", type=int, nargs="*")
    retry.add_argument("--all-failed", action="store_true")
    retry.set_defaults(handler=cmd_retry)
    deliver = actions.add_parser("deliver", help="the retry job: send every delivery that is due")
    deliver.set_defaults(handler=cmd_deliver)
