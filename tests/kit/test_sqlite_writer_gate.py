"""SQLite's writer gate across processes (kit/db.py): a flock on ``<database>.writer-lock``
taken after the in-process lock, so that two processes' writers queue on it instead of
meeting at SQLite's own lock and sleeping in its busy handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, text

from kit.db import DatabaseBusy, DatabaseTimeouts, create_db_engine

ROOT = Path(__file__).resolve().parents[2]

# A writer process: threads that each read the next number and insert it (read-then-write,
# what BEGIN IMMEDIATE keeps gap-free), with SQLite's busy_timeout at 0 so that meeting
# SQLite's lock raises "database is locked" instead of sleeping in the busy handler. It
# says "ready" once imported and starts when the file `go` appears (made when both are
# ready), so that the processes overlap, and prints how many of its transactions had to wait
# for the other process's.
WRITER = """
import sys, threading, time
from pathlib import Path
from sqlalchemy import event, text
from kit import db

database, go, threads, per_thread = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
engine = db.create_db_engine(f"sqlite:///{database}", pool_size=threads, max_overflow=0)
event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=0"))
waits, failures = [], []
real_wait = db._wait_for_flock
def counted(descriptor, timeout):
    waits.append(1)
    return real_wait(descriptor, timeout)
db._wait_for_flock = counted

def write():
    try:
        for _ in range(per_thread):
            with engine.begin() as connection:
                n = connection.execute(text("SELECT coalesce(max(n), 0) + 1 FROM numbers")).scalar()
                time.sleep(0.0005)  # the window in which an unserialised writer would slip in
                connection.execute(text("INSERT INTO numbers (n) VALUES (:n)"), {"n": n})
    except BaseException as error:
        failures.append(error)

print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
workers = [threading.Thread(target=write) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
if failures:
    sys.exit(repr(failures[0]))
print(len(waits))
"""

# Holds the gate in an open transaction until killed.
HOLDER = """
import sys, time
from sqlalchemy import text
from kit.db import create_db_engine

engine = create_db_engine(f"sqlite:///{sys.argv[1]}")
connection = engine.connect()
connection.begin()
connection.execute(text("INSERT INTO numbers (n) VALUES (1)"))
print("holding", flush=True)
time.sleep(120)
"""


def _numbers_database(tmp_path: Path) -> Path:
    database = tmp_path / "gate.db"
    engine = create_db_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER PRIMARY KEY)"))
    engine.dispose()
    return database


def _count(database: Path) -> int:
    engine = create_db_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM numbers")).scalar_one()
    engine.dispose()
    return count


def test_two_processes_write_without_ever_meeting_sqlites_lock(tmp_path: Path):
    database = _numbers_database(tmp_path)
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(database), str(go), "2", "60"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for writer in writers:  # both imported and connected: a slow start cannot serialise them
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [writer.communicate(timeout=120) for writer in writers]

    for writer, (_out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err  # no "database is locked", no DatabaseBusy
    assert _count(database) == 2 * 2 * 60  # every read-then-write landed, none collided
    assert sum(int(out) for out, _err in outputs) > 0  # they did contend, on the file lock
    assert (tmp_path / "gate.db.writer-lock").exists()


def test_waiting_longer_than_the_lock_timeout_is_database_busy(tmp_path: Path):
    database = _numbers_database(tmp_path)
    # Two engines are two gates: each has its own in-process lock and opens the lock file
    # on its own, so they contend on the flock exactly as two processes do.
    holder = create_db_engine(f"sqlite:///{database}")
    impatient = create_db_engine(f"sqlite:///{database}", DatabaseTimeouts(lock=0.2))
    held = holder.connect()
    held.begin()
    held.execute(text("INSERT INTO numbers (n) VALUES (1)"))

    with pytest.raises(DatabaseBusy), impatient.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (2)"))

    held.commit()
    held.close()
    # the timed-out waiter released the in-process lock, and its helper the file lock
    with impatient.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (2)"))
    with holder.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (3)"))
    assert _count(database) == 3
    holder.dispose()
    impatient.dispose()


def test_closing_a_connection_in_its_transaction_releases_the_lock(tmp_path: Path):
    database = _numbers_database(tmp_path)
    holder = create_db_engine(f"sqlite:///{database}")
    other = create_db_engine(f"sqlite:///{database}", DatabaseTimeouts(lock=0.5))
    held = holder.connect()
    held.begin()
    held.execute(text("INSERT INTO numbers (n) VALUES (1)"))

    held.connection.driver_connection.close()

    with other.begin() as connection:
        connection.execute(text("INSERT INTO numbers (n) VALUES (2)"))
    assert _count(database) == 1  # the closed transaction's row never landed
    held.invalidate()
    holder.dispose()
    other.dispose()


def test_a_process_killed_while_holding_the_lock_releases_it(tmp_path: Path):
    database = _numbers_database(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding", holder.stderr
        engine = create_db_engine(f"sqlite:///{database}", DatabaseTimeouts(lock=0.2))
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=0"))
        with pytest.raises(DatabaseBusy), engine.begin() as connection:
            connection.execute(text("INSERT INTO numbers (n) VALUES (2)"))

        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)

        with engine.begin() as connection:
            connection.execute(text("INSERT INTO numbers (n) VALUES (2)"))
        assert _count(database) == 1  # the killed process's row rolled back with it
        engine.dispose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()


def test_a_database_in_memory_has_no_lock_file(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = create_db_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert list(tmp_path.iterdir()) == []
