"""Administration commands of this service, registered into `egate`."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add this service's subcommands to the `egate` parser."""
