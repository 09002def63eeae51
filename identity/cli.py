"""Administration commands of this service, registered into `egate`. Commands are entry
points: each builds its own kit.runtime.Runtime and passes its parts down."""

from __future__ import annotations

import argparse

from identity.accounts import cli as accounts_cli
from identity.backchannel import cli as backchannel_cli
from identity.clients import cli as clients_cli
from identity.keys import cli as keys_cli


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this service's subcommands to the `egate` parser."""
    clients_cli.register(commands)  # clients add|list
    keys_cli.register(commands)  # keys rotate (token signing keys)
    accounts_cli.register(commands)  # staff create, field-keys rotate, outbox deliver
    backchannel_cli.register(commands)  # logout-deliveries list|retry|deliver
