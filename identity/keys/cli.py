"""`egate keys rotate`: new signing keys for new tokens; old public keys stay published."""

from __future__ import annotations

import argparse

from identity.db import unit_of_work
from identity.keys.service import ensure_keys, rotate
from kit.console import progress
from kit.runtime import Runtime
from kit.settings import Settings


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    longest = max(settings.access_token_ttl_seconds, settings.id_token_ttl_seconds)
    with unit_of_work(runtime.sessions) as db:
        ensure_keys(db, runtime.master_key, runtime.clock())
        new_kids = rotate(db, runtime.master_key, runtime.clock(), longest)
    progress(f"new signing keys: {', '.join(new_kids)}; old public keys stay published {longest}s")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="token signing keys")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    rotate_command = actions.add_parser("rotate", help="make new keys active; keep old public keys")
    rotate_command.set_defaults(handler=cmd_rotate)
