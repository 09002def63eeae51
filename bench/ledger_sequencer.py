"""Benchmark the ledger's sequencer under load: disclosures accepted per second (each in a
transaction of its own, as a release of claims does it: ``port.record_disclosure``) while
the sequencer integrates them in batches and signs at most one checkpoint per
``--checkpoint-interval`` seconds, and the
integration lag (batch commit time minus the entry's recorded time) at that rate.

Run: .venv/bin/python bench/ledger_sequencer.py [--backends sqlite,postgresql] [--seconds 10]
SQLite: writer threads and the sequencer in one process (SQLite's deployment); with
``--on-loop N``, N concurrent requests on one event loop instead, each disclosure's unit of
work run on the loop's thread as the gateway runs it (kit.database_work). PostgreSQL:
writer processes (as replicas would be) and the sequencer in this one (a process apart from
the writers, as `egate serve` runs it on PostgreSQL); a throwaway cluster
(tests/support/postgres.py; ``--durable``: with fsync and synchronous commits) unless
EGATE_BENCH_POSTGRES_URL names a server.
``--sequencer-process``: the sequencer in a child process (consent.ledger.sequencer.
SequencerProcess) rather than a thread of this one. ``--trace-batches MS``: the batches that
took MS ms or more, and on PostgreSQL the time the sequencer's backend was runnable but not
running meanwhile (a server on this machine). The lag is printed twice: for every
entry, and for those recorded after ``--warm-up`` seconds (processes and connections start
together at first, and the first batches wait on that).
Targets: >= 5,000 disclosures/s accepted on each backend, lag p99 <= 1 s at that rate
(``--rate 5000`` offers that rate and no more, so that the lag is measured at it).
The machine may be shared: the figures are for the load it had, shown next to the floor
(units of work doing nothing but SELECT 1).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ledger import percentile, postgres_url, release, runtime_for, transaction_floor
from consent.config import ConsentConfig, SequencerPolicy, sequencer_interval_for
from consent.ledger import repository
from consent.ledger.sequencer import BackgroundSequencer, Sequencer, SequencerProcess, SequencerSpec
from consent.ledger.service import Integrated
from consent.port import LedgerConsentPort
from kit.database_work import run_database_work
from kit.db import create_db_engine, create_session_factory, session_scope

unit_of_work = contextmanager(session_scope)


def write(sessions: Any, port: LedgerConsentPort, seconds: float, seed: int, counts: list[Window]) -> None:
    rng = random.Random(seed)
    started = time.time()
    deadline = started + seconds
    done = 0
    while time.time() < deadline:
        with unit_of_work(sessions) as db:
            port.record_disclosure(db, **release(rng, done), now=datetime.now(UTC))
        done += 1
    counts.append((done, started, time.time()))


Window = tuple[int, float, float]  # releases accepted, from, until (wall clock)


def record_one(port: LedgerConsentPort, db: Any, rng: random.Random, i: int) -> None:
    port.record_disclosure(db, **release(rng, i), now=datetime.now(UTC))


def write_on_loop(
    sessions: Any, port: LedgerConsentPort, seconds: float, tasks: int, rate: float = 0.0
) -> list[Window]:
    """As the gateway records a release: ``tasks`` concurrent requests on one event loop, each
    disclosure's unit of work run by kit.database_work as reads-first work (on SQLite on the
    loop's thread, on PostgreSQL in worker threads), its insert in the loop turn's batch
    (kit.insert_batches) unless the engine was made without reads-first. ``rate``: at most
    that many requests a second begin, spread evenly (0: each task's next at once)."""
    counts: list[Window] = []
    begun = 0
    first = time.time()

    async def paced() -> None:
        nonlocal begun
        begun += 1
        due = first + begun / rate
        if due > time.time():
            await asyncio.sleep(due - time.time())

    async def requests(seed: int) -> None:
        rng = random.Random(seed)
        started = time.time()
        deadline = started + seconds
        done = 0
        while time.time() < deadline:
            if rate:
                await paced()
            db = sessions()
            try:
                await run_database_work(
                    db, partial(record_one, port, db, rng, done), commit=True, reads_first=True
                )
            finally:
                db.close()
            done += 1
        counts.append((done, started, time.time()))

    async def all_requests() -> None:
        await asyncio.gather(*(requests(n) for n in range(tasks)))

    asyncio.run(all_requests())
    return counts


def rate(windows: list[Window]) -> tuple[int, float]:
    """Releases accepted, over the time the writers were all writing (start-up excluded)."""
    total = sum(n for n, _, _ in windows)
    return total, max(end for _, _, end in windows) - min(start for _, start, _ in windows)


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_in_threads(
    url: str, seconds: float, threads: int, seed: int, start_at: float
) -> tuple[list[Window], float]:
    """A writer process (PostgreSQL): its own engine and pool, ``threads`` writers. Returns its
    windows and the process's CPU seconds while they wrote."""
    engine = create_db_engine(url, pool_size=threads + 2)
    sessions = create_session_factory(engine)
    port = LedgerConsentPort()
    counts: list[Window] = []
    time.sleep(max(0.0, start_at - time.time()))  # all processes imported and connected: go together
    cpu_before = process_cpu_seconds()
    workers = [
        threading.Thread(target=write, args=(sessions, port, seconds, seed * 1000 + n, counts))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu = process_cpu_seconds() - cpu_before
    engine.dispose()
    return counts, cpu


def write_on_loop_in_process(
    url: str, seconds: float, tasks: int, reads_first: bool, start_at: float, rate: float = 0.0
) -> tuple[list[Window], float]:
    """A writer process (PostgreSQL) as a gateway replica runs: ``tasks`` concurrent requests
    on one event loop, their work in worker threads (kit.database_work). Returns its windows
    and the process's CPU seconds while they wrote."""
    engine = create_db_engine(url, pool_size=tasks + 2, reads_first=reads_first)
    sessions = create_session_factory(engine)
    port = LedgerConsentPort()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = process_cpu_seconds()
    try:
        return write_on_loop(sessions, port, seconds, tasks, rate), process_cpu_seconds() - cpu_before
    finally:
        engine.dispose()


class Lag:
    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (recorded at, lag), seconds
        self.batches: list[int] = []
        self.checkpoints = 0
        self.lock = threading.Lock()

    def __call__(self, batch: Integrated, committed_at: datetime) -> None:
        self.add(lags(batch, committed_at), batch.checkpoint is not None)

    def add(self, samples: list[tuple[float, float]], signed: bool) -> None:
        with self.lock:
            self.samples.extend(samples)
            self.batches.append(len(samples))
            self.checkpoints += signed

    @property
    def integrated(self) -> int:
        with self.lock:
            return sum(self.batches)


def lags(batch: Integrated, committed_at: datetime) -> list[tuple[float, float]]:
    return [(at.timestamp(), (committed_at - at).total_seconds()) for at in batch.recorded_at]


class SlowBatches:
    """``--trace-batches MS``: the batches whose step took at least MS ms, each with the time its
    sequencer's PostgreSQL backend spent runnable but waiting for a CPU meanwhile
    (``/proc/<pid>/schedstat``, so only for a server on this machine). A sequencer thread of
    this process only: the step and the ledger's integrate are wrapped for the run (a
    measurement, not a way to serve)."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000
        self.slow: list[tuple[float, int, float | None]] = []  # seconds, entries, run-queue wait
        self._backend: int | None = None
        self._waited_before = 0.0

    def install(self, sequencer: Sequencer) -> None:
        step, integrate = sequencer.step, sequencer.ledger.integrate

        def traced_integrate(db: Any, *args: Any, **kwargs: Any) -> Any:
            info = getattr(db.connection().connection.driver_connection, "info", None)
            self._backend = getattr(info, "backend_pid", None)
            self._waited_before = run_queue_wait(self._backend) or 0.0
            return integrate(db, *args, **kwargs)

        def traced_step() -> Integrated | None:
            self._backend, started = None, time.perf_counter()
            batch = step()
            took = time.perf_counter() - started
            if batch is not None and took >= self.threshold:
                waited = run_queue_wait(self._backend)
                self.slow.append(
                    (took, batch.count, None if waited is None else waited - self._waited_before)
                )
            return batch

        sequencer.step = traced_step  # type: ignore[method-assign]
        sequencer.ledger.integrate = traced_integrate  # type: ignore[method-assign]

    def report(self) -> None:
        print(f"  batches that took {self.threshold * 1000:g} ms or more: {len(self.slow)}", flush=True)
        for took, count, waited in self.slow:
            wait = (
                ""
                if waited is None
                else f", its backend runnable but waiting for a CPU {waited * 1000:,.0f} ms"
            )
            print(f"    {took * 1000:,.0f} ms, {count:,} entries{wait}", flush=True)


def run_queue_wait(pid: int | None) -> float | None:
    """Seconds the process ``pid`` has spent runnable but not running, if it runs here."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class SendLag:
    """The observer of a sequencer in a process of its own: each batch's lags, sent back."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def __call__(self, batch: Integrated, committed_at: datetime) -> None:
        self.queue.put((lags(batch, committed_at), batch.checkpoint is not None))


def receive_lags(queue: Any, lag: Lag, stop: threading.Event) -> None:
    while not stop.is_set() or not queue.empty():
        try:
            samples, signed = queue.get(timeout=0.1)
        except Empty:
            continue
        lag.add(samples, signed)


def wait_for_lease(runtime: Any, holder: str) -> None:
    """Until the sequencer process has started and taken the lease (its imports take seconds)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with unit_of_work(runtime.sessions) as db:
            if repository.read_lease(db)[0] == holder:
                return
        time.sleep(0.1)
    raise SystemExit("the sequencer process never took the lease")


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"== {name}", flush=True)
    on_sqlite = name.startswith("SQLite")
    with tempfile.TemporaryDirectory() as directory:
        # On the loop, reads-first work's inserts are written in each turn's batch, as the
        # gateway's (kit.insert_batches).
        runtime = runtime_for(url, directory, reads_first=bool(args.on_loop) and not args.each_alone)
        floor = transaction_floor(runtime, 1000)
        if not on_sqlite:
            with runtime.engine.connect() as connection:
                fsync = connection.exec_driver_sql("SHOW fsync").scalar()
                synchronous = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            print(f"  server: fsync {fsync}, synchronous_commit {synchronous}", flush=True)
        if args.on_loop:
            processes = "" if on_sqlite else f"{args.processes} processes × "
            writes = (
                "in a write transaction each (EGATE_DATABASE_READS_FIRST=false)"
                if args.each_alone
                else "a loop turn's in one transaction (EGATE_DATABASE_READS_FIRST=true)"
            )
            print(f"  writers: {processes}{args.on_loop} requests on a loop, disclosures {writes}")
        port = LedgerConsentPort(runtime, ConsentConfig())
        lag = Lag()
        policy = SequencerPolicy(
            batch_size=args.batch_size,
            # As `egate serve` by default: the pause depends on the backend (consent/config.py).
            interval_seconds=args.interval or sequencer_interval_for(url),
            checkpoint_interval_seconds=args.checkpoint_interval,
        )
        background: BackgroundSequencer | SequencerProcess
        if args.sequencer_process:
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            spec = SequencerSpec(
                database_url=url,
                origin=port.ledger.origin,
                master_key=runtime.master_key,
                config=ConsentConfig(sequencer=policy),
                observe=SendLag(queue),
            )
            background = SequencerProcess(spec)
            receiving = threading.Event()
            receiver = threading.Thread(target=receive_lags, args=(queue, lag, receiving))
            receiver.start()
        else:
            sequencer = Sequencer(port.ledger, runtime.sessions, policy, observe=lag)
            if args.trace_batches is not None:
                slow_batches = SlowBatches(args.trace_batches)
                slow_batches.install(sequencer)
            background = BackgroundSequencer(sequencer)
        background.start()
        if args.sequencer_process:
            wait_for_lease(runtime, spec.holder)
        writers_cpu: float | None = None  # writer processes of their own (PostgreSQL)
        if on_sqlite and args.on_loop:
            windows = write_on_loop(runtime.sessions, port, args.seconds, args.on_loop, args.rate)
        elif on_sqlite:
            counts: list[Window] = []
            writers = [
                threading.Thread(target=write, args=(runtime.sessions, port, args.seconds, n, counts))
                for n in range(args.threads)
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            windows = counts
        else:
            with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
                start_at = time.time() + 15  # the processes' imports take a while on a busy machine
                if args.on_loop:
                    reads_first = not args.each_alone
                    offered = args.rate / args.processes
                    jobs = [
                        pool.apply_async(
                            write_on_loop_in_process,
                            (url, args.seconds, args.on_loop, reads_first, start_at, offered),
                        )
                        for _ in range(args.processes)
                    ]
                else:
                    jobs = [
                        pool.apply_async(write_in_threads, (url, args.seconds, args.threads, n, start_at))
                        for n in range(args.processes)
                    ]
                runs = [job.get() for job in jobs]
                windows = [window for process_windows, _ in runs for window in process_windows]
                writers_cpu = sum(cpu for _, cpu in runs)
        accepted, elapsed = rate(windows)
        warm = min(start for _, start, _ in windows) + args.warm_up
        deadline = time.monotonic() + 60
        while lag.integrated < accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        background.stop()
        if args.sequencer_process:
            receiving.set()
            receiver.join()
        with runtime.sessions() as db:
            size = port.ledger.tree_size(db)
            waiting, _ = port.ledger.queue_status(db)
            checkpoints = port.ledger.latest_checkpoint(db)
        samples = [seconds for _, seconds in lag.samples]
        steady = [seconds for at, seconds in lag.samples if at >= warm]
        print(
            f"  accepted: {accepted:,} disclosures in {elapsed:.1f} s = {accepted / elapsed:,.0f}/s"
            f" (target >= 5,000/s); units of work doing only SELECT 1, one thread: {floor:,.0f}/s",
            flush=True,
        )
        if writers_cpu is not None:
            print(
                f"  the writer processes' CPU: {writers_cpu / elapsed * 100:.0f}% of a core,"
                f" {writers_cpu / accepted * 1e6:.0f} us per accepted disclosure",
                flush=True,
            )
        if samples:
            print(
                f"  integration lag: p50 {percentile(samples, 0.5) * 1000:.0f} ms,"
                f" p99 {percentile(samples, 0.99) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
                f" (target p99 <= 1,000 ms); {len(lag.batches)} batches, {lag.checkpoints} checkpoints,"
                f" {sum(lag.batches) / len(lag.batches):,.0f} entries per batch on average",
                flush=True,
            )
        if steady:
            print(
                f"  the same for entries recorded after the first {args.warm_up:g} s (the writers'"
                f" start-up excluded): p50 {percentile(steady, 0.5) * 1000:.0f} ms,"
                f" p99 {percentile(steady, 0.99) * 1000:.0f} ms, max {max(steady) * 1000:.0f} ms",
                flush=True,
            )
        if args.trace_batches is not None and not args.sequencer_process:
            slow_batches.report()
        print(
            f"  tree size {size:,}, still queued {waiting}, latest checkpoint at"
            f" {checkpoints.tree_size if checkpoints else 0:,}",
            flush=True,
        )
        runtime.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the writers write")
    parser.add_argument("--threads", type=int, default=4, help="writer threads (per process)")
    parser.add_argument(
        "--on-loop",
        type=int,
        default=0,
        metavar="N",
        help="N concurrent requests on one event loop (per writer process on PostgreSQL) instead of"
        " threads, as the gateway runs them",
    )
    parser.add_argument(
        "--each-alone",
        action="store_true",
        help="with --on-loop: each disclosure in a write transaction of its own, not in the loop "
        "turn's batch (kit.insert_batches)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="with --on-loop: offer this many disclosures a second in all, e.g. 5000, to measure the"
        " integration lag at that rate (0: as many as the writers can)",
    )
    parser.add_argument("--processes", type=int, default=2, help="writer processes (PostgreSQL)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="the idle sequencer's pause (default: the server's, by backend)",
    )
    parser.add_argument(
        "--checkpoint-interval", type=float, default=1.0, help="checkpoints at most this often (0: per batch)"
    )
    parser.add_argument(
        "--warm-up", type=float, default=2.0, help="seconds of writing also left out of a second lag figure"
    )
    parser.add_argument(
        "--sequencer-process",
        action="store_true",
        help="the sequencer in a process of its own (as `egate serve` runs it), not a thread of this one",
    )
    parser.add_argument(
        "--trace-batches",
        type=float,
        default=None,
        metavar="MS",
        help="print each batch that took MS ms or more (with a sequencer thread of this process),"
        " and on PostgreSQL how long its backend waited for a CPU meanwhile",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="PostgreSQL: a throwaway cluster with fsync and synchronous_commit on (the test"
        " suite's has both off); ignored with EGATE_BENCH_POSTGRES_URL",
    )
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                bench(
                    "SQLite (file, WAL, group fsync of the WAL per batch of commits)",
                    f"sqlite:///{directory}/bench.sqlite3",
                    args,
                )
        elif backend == "postgresql":
            with postgres_url(durable=args.durable) as url:
                bench("PostgreSQL", url, args)
        else:
            parser.error(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
