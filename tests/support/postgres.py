"""A throwaway PostgreSQL 15 cluster for one test run: a temp dir, a unix socket, no TCP.

As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).

A run has one shared cluster (:func:`shared_cluster`), whether pytest runs in one process or
in several xdist workers: the first process that needs it starts it, under a file lock in the
run's directory, and the others attach to it; each makes its own databases in it. The process
that owns the run (the xdist controller, or pytest alone) stops it at the end
(:func:`stop_shared_cluster`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATE_BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/bin"]


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    for candidate in CANDIDATE_BIN_DIRS:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


@dataclass
class TempCluster:
    root: Path
    bin_dir: Path
    as_user: list[str]
    # Off for speed in the shared cluster; on where a test stops the server as a crash
    # would and expects what was committed to be there afterwards.
    durable_commits: bool = False
    # More ``-c name=value`` server settings (a benchmark sizing shared_buffers).
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def _run(self, *argv: str) -> None:
        result = subprocess.run(
            [*self.as_user, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"{argv[0]} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> None:
        data = self.root / "data"
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start_server()

    def _server_options(self) -> str:
        # Connections: every xdist worker holds pools of its own (engines per backend, live
        # servers), so the shared cluster allows many.
        options = f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=300"
        if not self.durable_commits:
            options += " -c synchronous_commit=off -c full_page_writes=off"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        return options

    def stop_server(self) -> None:
        """Stop the server as a crash would (immediate mode), keeping its data."""
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"
        )

    def start_server(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            self._server_options(),
            "-w",
            "-l",
            str(self.root / "server.log"),
            "start",
        )

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the whole server: sockets stay open, nothing answers (a stalled database)."""
        for pid in self.server_pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.server_pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "root": str(self.root),
                "bin_dir": str(self.bin_dir),
                "as_user": self.as_user,
                "durable_commits": self.durable_commits,
                "settings": self.settings,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TempCluster:
        fields = json.loads(text)
        return cls(
            Path(fields["root"]),
            Path(fields["bin_dir"]),
            list(fields["as_user"]),
            fields["durable_commits"],
            dict(fields.get("settings", {})),
        )


def start_temp_cluster(
    *, durable_commits: bool = False, settings: dict[str, str] | None = None
) -> TempCluster:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="egate-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root but `runuser` is missing")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    (root / "socket").mkdir()
    if as_user:
        shutil.chown(root / "socket", "postgres")
    cluster = TempCluster(root, bin_dir, as_user, durable_commits, dict(settings or {}))
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


SHARED_STATE = "postgres.json"


def shared_cluster(run_dir: Path) -> TempCluster:
    """The run's one cluster: started by the first process that asks, attached to by the rest."""
    with (run_dir / "postgres.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = run_dir / SHARED_STATE
        if state.exists():
            return TempCluster.from_json(state.read_text())
        cluster = start_temp_cluster()
        state.write_text(cluster.to_json())
        return cluster


def stop_shared_cluster(run_dir: Path) -> None:
    """Stop the run's cluster, if a process of the run started one."""
    with (run_dir / "postgres.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = run_dir / SHARED_STATE
        if state.exists():
            TempCluster.from_json(state.read_text()).stop()
            state.unlink()
