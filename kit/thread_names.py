"""Our threads under their own names for the operating system, not the process's.

Python 3.11 names a thread for Python only: ``top -H``, ``ps -L`` and ``/proc/<pid>/task``
show every thread of the server as ``python``. Named, an operator sees which of them takes
the CPU (the loop, the ledger's sequencer, the WAL's fsync, the worker threads), and the
benchmarks split the server's CPU by thread (``bench/peer/run.py``). Linux keeps 15 bytes of
a name: ours fit (``ledger-sequence``, ``ledger-verify``, ``egate-wal-fsync``,
``egate-worker_N``).
"""

from __future__ import annotations

import ctypes
import sys
import threading

_PR_SET_NAME = 15
_MAX_NAME_BYTES = 15  # the kernel's TASK_COMM_LEN, less the terminating NUL

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread ``name`` (by default its Python name) for the operating system,
    cut to the 15 bytes Linux keeps; elsewhere, nothing."""
    if _libc is None:
        return
    encoded = (name or threading.current_thread().name).encode("ascii", "replace")[:_MAX_NAME_BYTES]
    _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(encoded), 0, 0, 0)
