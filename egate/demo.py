"""Demo data so a newcomer can sign in within a minute: each service seeds its own part."""

from __future__ import annotations

from collections.abc import Callable

from egate.runtime import Runtime


def seed_demo(runtime: Runtime, progress: Callable[[str], None]) -> None:
    progress("demo data: nothing to seed yet")
