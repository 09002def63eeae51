"""A real reverse proxy in front of gateway replicas: Debian's HAProxy (installed by
scripts/test), run in the foreground by the test that needs it.

Requests go round-robin to the replicas that pass their health check; a request carrying
``X-Replica: <name>`` goes to that replica only, so a test can say which one serves it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _config(port: int, replicas: dict[str, int]) -> str:
    pick = "\n".join(
        f"    use_backend only_{name} if {{ req.hdr(x-replica) -m str {name} }}" for name in replicas
    )
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{replica_port} check inter 300 fall 2 rise 1"
        for name, replica_port in replicas.items()
    )
    singles = "\n".join(
        f"backend only_{name}\n    server {name} 127.0.0.1:{replica_port}"
        for name, replica_port in replicas.items()
    )
    return f"""global
    maxconn 512

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option forwardfor
    option redispatch
    retries 2

frontend gateway
    bind 127.0.0.1:{port}
{pick}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /health/live
{servers}

{singles}
"""


def start_proxy(directory: Path, port: int, replicas: dict[str, int]) -> Proxy:
    """HAProxy on 127.0.0.1:``port`` in front of ``replicas`` (name -> port on 127.0.0.1)."""
    binary = shutil.which("haproxy") or HAPROXY
    if not Path(binary).exists():
        raise RuntimeError("HAProxy is not installed: scripts/test installs Debian's haproxy")
    config = directory / "haproxy.cfg"
    config.write_text(_config(port, replicas))
    checked = subprocess.run(
        [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        raise RuntimeError(f"haproxy refused its configuration: {checked.stderr.strip()}")
    process = subprocess.Popen(
        [binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("haproxy did not start") from None
            time.sleep(0.05)
    return Proxy(process, f"http://127.0.0.1:{port}")
