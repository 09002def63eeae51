"""SQLite's commits (kit/db.py): serialised on the writer gate, which is released only once
SQLite has finished the COMMIT, and made durable in groups by one fsync of the WAL."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from kit import db as kit_db
from kit.db import _GroupSync, create_db_engine


def test_one_fsync_covers_every_commit_that_finished_before_it_started(monkeypatch, tmp_path: Path):
    syncs: list[tuple[float, float]] = []

    def slow_fsync(self) -> None:
        started = time.monotonic()
        time.sleep(0.01)
        syncs.append((started, time.monotonic()))

    monkeypatch.setattr(_GroupSync, "_fsync", slow_fsync)
    group = _GroupSync(str(tmp_path / "x.db-wal"))
    returned: list[tuple[float, float]] = []

    def commit() -> None:
        called = time.monotonic()
        group.wait_durable()
        returned.append((called, time.monotonic()))

    threads = [threading.Thread(target=commit) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(returned) == 24
    assert 1 <= len(syncs) < 24  # grouped
    for called, done in returned:
        # each commit returned after a whole fsync that began after it asked
        assert any(called <= started and ended <= done for started, ended in syncs)


def test_a_failed_fsync_fails_its_commit_and_the_next_one_retries(monkeypatch, tmp_path: Path):
    outcomes = iter([OSError("disk gone"), None])

    def flaky_fsync(self) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(_GroupSync, "_fsync", flaky_fsync)
    group = _GroupSync(str(tmp_path / "x.db-wal"))
    with pytest.raises(OSError, match="disk gone"):
        group.wait_durable()
    group.wait_durable()  # synced by a new fsync, not by the failed one


def test_concurrent_writers_all_land_with_fewer_fsyncs_than_commits(monkeypatch, tmp_path: Path):
    fsyncs = []
    real_fsync = os.fsync

    def counted(descriptor: int) -> None:
        fsyncs.append(descriptor)
        time.sleep(0.002)  # a disk's latency, so that commits pile up behind it
        real_fsync(descriptor)

    monkeypatch.setattr(kit_db.os, "fsync", counted)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'commits.db'}", pool_size=8, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE acknowledged (n INTEGER PRIMARY KEY)"))
    fsyncs.clear()

    def writer(start: int) -> None:
        for n in range(start, start + 25):
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO acknowledged (n) VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM acknowledged")).scalar() == 200
        # reading commits nothing durable: no fsync for a read-only transaction
        before = len(fsyncs)
        connection.commit()
    assert len(fsyncs) == before
    assert 0 < len(fsyncs) < 200
    engine.dispose()
