"""What command-line tools print to a person: one progress line each, on stderr."""

from __future__ import annotations

import sys


def progress(message: str) -> None:
    print(f"• {message}", file=sys.stderr, flush=True)
