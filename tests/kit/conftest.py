"""Fixtures shared by the kernel's tests."""

from __future__ import annotations

import pytest

from kit.db import _GroupSync


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per fsync of a SQLite WAL from now on (``kit.db._GroupSync``), each made."""
    made: list[int] = []
    real_fsync = _GroupSync._fsync

    def counted(self: _GroupSync) -> None:
        real_fsync(self)
        made.append(1)

    monkeypatch.setattr(_GroupSync, "_fsync", counted)
    return made
