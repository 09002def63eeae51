"""The ledger sequencer's own CPU per integrated entry, by batch size, with nothing else running.

``bench/ledger_sequencer.py`` measures the sequencer under load, where the writers, the
sequencer and the machine's other tenants share the cores and the figures move with them.
This one queues ``--entries`` disclosures, then has one sequencer integrate them all
(``Sequencer.drain``) at each ``--batch-sizes`` in turn, in this one thread, and prints the
process CPU per entry: what a batch costs whatever its size (its transaction, the lease, the
frontier) against what each entry adds (reading it back, hashing it, storing it and its tree
nodes). A checkpoint is signed at most once a second, as `egate serve` does by default.

    .venv/bin/python bench/sequencer_cost.py [--entries 3000] [--batch-sizes 75,300,1200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ledger import release, runtime_for
from consent.config import ConsentConfig, SequencerPolicy
from consent.ledger.sequencer import Sequencer
from consent.port import LedgerConsentPort
from kit.db import session_scope

unit_of_work = contextmanager(session_scope)
QUEUED_PER_TRANSACTION = 50


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--batch-sizes", default="75,300,1200")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="egate-sequencer-cost-") as directory:
        runtime = runtime_for(f"sqlite:///{directory}/ledger.db", directory)
        port = LedgerConsentPort(runtime, ConsentConfig())
        sequencer = Sequencer(port.ledger, runtime.sessions)
        rng = random.Random(1)
        costs: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(args.rounds):
            for size in sizes:
                for first in range(0, args.entries, QUEUED_PER_TRANSACTION):
                    with unit_of_work(runtime.sessions) as db:
                        for i in range(first, min(first + QUEUED_PER_TRANSACTION, args.entries)):
                            port.record_disclosure(db, now=datetime.now(UTC), **release(rng, i))
                sequencer.policy = SequencerPolicy(batch_size=size)
                started = time.process_time()
                integrated = sequencer.drain()
                costs[size].append((time.process_time() - started) / integrated * 1e6)
        print(f"sequencer CPU per entry ({args.entries} queued, then integrated; {args.rounds} rounds):")
        for size in sizes:
            rounds = ", ".join(f"{cost:.0f}" for cost in costs[size])
            print(f"  batches of {size:5d}: {min(costs[size]):6.1f} us per entry at best (rounds: {rounds})")


if __name__ == "__main__":
    main()
