"""`egate serve --workers N`: each worker listens on a socket of its own (SO_REUSEPORT), so the
kernel spreads connections over the workers instead of leaving them to whichever accepts first
(egate/workers.py)."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from egate.workers import WorkersOwnSocket, reuse_port_socket
from tests.support.live_server import free_port

START_TIMEOUT_SECONDS = 120
LISTEN, ESTABLISHED = "0A", "01"


def test_a_workers_own_socket_is_bound_by_whoever_unpickles_it_and_shares_the_port():
    port = free_port()
    # Our own bytes, as multiprocessing's spawn hands a worker its sockets.
    first = pickle.loads(pickle.dumps(WorkersOwnSocket("127.0.0.1", port)))  # noqa: S301
    second = pickle.loads(pickle.dumps(WorkersOwnSocket("127.0.0.1", port)))  # noqa: S301
    try:
        assert isinstance(first, socket.socket) and first.getsockname() == ("127.0.0.1", port)
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        first.listen()
        second.listen()  # both listen on the port: the kernel spreads connections over them
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))  # a server of another kind cannot take it
    finally:
        first.close()
        second.close()


def test_a_port_another_server_holds_is_refused_at_once():
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with pytest.raises(OSError):
            reuse_port_socket("127.0.0.1", plain.getsockname()[1])


def _sockets_on(port: int) -> dict[str, str]:
    """The kernel's TCP sockets on local ``port`` (IPv4): inode → state."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            found[fields[9]] = fields[3]
    return found


def _inodes_held(pid: int) -> set[str]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[len("socket:[") : -1])
    return held


@pytest.fixture
def two_workers(tmp_path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    env.update(EGATE_DATA_DIR=str(tmp_path), EGATE_ARGON2_TIME_COST="1", EGATE_ARGON2_MEMORY_KIB="1024")
    process = subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            listening = [inode for inode, state in _sockets_on(port).items() if state == LISTEN]
            if len(listening) == 2:
                break
            assert process.poll() is None, "egate serve --workers 2 stopped"
            time.sleep(0.3)
        else:
            pytest.fail("the two workers never listened")
        while httpx.get(f"http://127.0.0.1:{port}/health/live").status_code != 200:
            time.sleep(0.2)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=60)


def _workers(supervisor: int) -> list[int]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(supervisor)], capture_output=True, text=True, check=True
    ).stdout.split()
    return [int(pid) for pid in children if _sockets_held_on_any(int(pid))]


def _sockets_held_on_any(pid: int) -> bool:
    try:
        return bool(_inodes_held(pid))
    except OSError:
        return False


def test_each_worker_listens_on_its_own_socket_and_connections_reach_both(two_workers):
    port, process = two_workers
    listening = {inode for inode, state in _sockets_on(port).items() if state == LISTEN}
    workers = [pid for pid in _workers(process.pid) if _inodes_held(pid) & listening]
    assert len(workers) == 2, "two workers, each with a listening socket"
    assert [len(_inodes_held(pid) & listening) for pid in workers] == [1, 1]
    assert len(listening) == 2, "one each, not one socket shared"

    # Twenty connections opened together, as a proxy's pool or a load generator opens them:
    # spread by the kernel, each worker accepts some (all on one: 2 in 2**20).
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            established = {inode for inode, state in _sockets_on(port).items() if state == ESTABLISHED}
            accepted = [len(_inodes_held(pid) & established) for pid in workers]
            if sum(accepted) == 20:
                break
            time.sleep(0.1)
        assert sum(accepted) == 20
        assert min(accepted) > 0, f"the connections per worker: {accepted}"
    finally:
        for client in clients:
            client.close()
