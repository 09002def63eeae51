"""A real HTTP server in a background thread: uvicorn serving the gateway on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=2)
        if self.thread.is_alive():
            # A connection a test left half-sent (a fuzzed or slow body) would hold a graceful
            # shutdown until the join gave up.
            self.server.force_exit = True
            self.thread.join(timeout=10)


def start_live_server(app: FastAPI, port: int) -> LiveServer:
    # proxy_headers off as `egate serve` runs without trusted proxies (uvicorn's default would
    # believe X-Forwarded-For from 127.0.0.1): the app's own kit.client_address decides.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(server, thread, f"http://127.0.0.1:{port}")
