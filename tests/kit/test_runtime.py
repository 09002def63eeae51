"""kit.runtime: what egate creates on disk is owner-only (the audit's finding 9)."""

from __future__ import annotations

import stat

from kit.runtime import Runtime
from kit.settings import load_settings


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_the_sqlite_database_are_owner_only(tmp_path):
    data = tmp_path / "data"
    runtime = Runtime.build(load_settings(data_dir=data))
    with runtime.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    runtime.engine.dispose()
    assert mode(data) == 0o700
    for name in ("egate.sqlite3", "master.key", "root.key"):
        assert mode(data / name) == 0o600, name
    for companion in data.glob("egate.sqlite3-*"):  # WAL and shared memory, when in WAL mode
        assert mode(companion) == 0o600, companion.name
