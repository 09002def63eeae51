"""Our threads carry their names for the operating system (``top -H``, ``/proc/<pid>/task``),
not the process's."""

from __future__ import annotations

import threading
from pathlib import Path

from kit.thread_names import name_os_thread
from kit.worker_threads import in_worker_thread
from tests.support.event_loop import run_loop


def os_name_of_this_thread() -> str:
    return Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()


def in_thread(target_name: str, work) -> str:
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(work()), name=target_name)
    thread.start()
    thread.join()
    return seen[0]


def test_a_thread_takes_its_python_name_or_the_one_given_cut_to_what_linux_keeps() -> None:
    def named_by_default() -> str:
        name_os_thread()
        return os_name_of_this_thread()

    def named_long() -> str:
        name_os_thread("ledger-sequencer-and-more")
        return os_name_of_this_thread()

    assert in_thread("ledger-integrity", named_by_default) == "ledger-integrit"  # 15 bytes
    assert in_thread("other", named_long) == "ledger-sequence"
    assert os_name_of_this_thread() not in ("ledger-integrit", "ledger-sequence")  # the caller's is its own


def test_the_worker_threads_are_named_for_the_os() -> None:
    async def main() -> str:
        return await in_worker_thread(os_name_of_this_thread)

    assert run_loop(main).startswith("egate-worker_")
