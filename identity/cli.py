"""Administration commands of this service, registered into `egate`. Commands are entry
points: each builds its own kit.runtime.Runtime and passes its parts down."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from identity.accounts import cli as accounts_cli
from identity.backchannel import cli as backchannel_cli
from identity.clients import cli as clients_cli
from identity.consent_port import ConsentPort
from identity.keys import cli as keys_cli
from identity.proofing import cli as proofing_cli
from identity.signing import cli as signing_cli
from kit.runtime import Runtime


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    consent: Callable[[Runtime], ConsentPort] | None = None,
) -> None:
    """Add this service's subcommands to the `egate` parser. ``consent`` builds the consent
    port (egate wires the consent service's); without it the registration commands, which may
    revoke consents, are left out."""
    clients_cli.register(commands)  # clients add|list|show
    keys_cli.register(commands)  # keys rotate (token signing keys)
    accounts_cli.register(commands)  # staff create, field-keys rotate, outbox deliver
    backchannel_cli.register(commands)  # logout-deliveries list|retry|deliver
    signing_cli.register(commands)  # signing-ca init|show
    if consent is not None:
        proofing_cli.register(commands, consent)  # registration lookup|queue|proof|reject|enrol
