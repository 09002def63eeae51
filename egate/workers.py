"""`egate serve --workers N`: uvicorn's supervisor, each worker listening on a socket of its own.

uvicorn binds one socket in the supervisor and hands it to every worker. A keep-alive
connection stays with the worker that accepted it, and a client that opens its connections
together (a proxy's pool to its backend, a load generator) may find all of them on one worker:
in six counted runs of wrk's ten connections, two had all ten on one worker, which then served
alone (docs/performance.md). Here each worker binds a socket of its own to the port with
``SO_REUSEPORT`` as it starts, and the kernel spreads new connections over the workers'
sockets by their addresses. A worker that dies takes its socket with it: no connection waits
in the queue of a socket that nobody accepts from.

The supervisor holds the port too, bound but not listening (the kernel hands connections to
listening sockets only), so that a server of another kind cannot take it while workers
restart. Another `egate serve --workers` on the same port, by the same user, would share it;
uvicorn's own supervisor refuses that, this one cannot.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` with ``SO_REUSEPORT``, not yet listening (the
    worker's server listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkersOwnSocket:
    """Stands for a socket in the list uvicorn's supervisor hands each worker: unpickled in
    the worker (``spawn``), it is a socket that worker binds itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return reuse_port_socket, (self.host, self.port)


def serve_with_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` workers under uvicorn's supervisor (restarts, health checks,
    signals), each on a socket of its own. Port 0 (any free port) would give each worker a
    different port: it is left to uvicorn's one shared socket."""
    if config.port == 0:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    try:
        held = reuse_port_socket(config.host, config.port)
    except OSError as error:  # taken by a server of another kind: as uvicorn fails then
        raise SystemExit(f"egate: cannot serve on {config.host}:{config.port}: {error}") from None
    try:
        Multiprocess(config, sockets=[WorkersOwnSocket(config.host, config.port)]).run()  # type: ignore[list-item]
    finally:
        held.close()
