"""The ledger checks itself: the stored tree against its signed checkpoints and its entries.

Defended against: a database altered behind the service's back — entries edited, deleted,
inserted or reordered, Merkle nodes or the frontier damaged, rows planted past the end of
the tree, the tree cut back behind what was verified or signed. Signing over such a state
would make the damage permanent (the new checkpoint commits to it) and appending would
build on it, so an inconsistent ledger does neither: :class:`LedgerInconsistent` is raised
instead, and the state is what readiness reports.

Two checks share one :class:`LedgerIntegrity` per ledger (per process):

* the **head check** (start-up, before every signature, each background tick) proves, in
  work proportional to the entries appended since it last passed, that the stored frontier
  is the tree the latest signed checkpoint commits to, extended by the stored entries after
  it, and that no entry or node is stored past its end. Its starting point is the tree it
  verified last (checked against the stored nodes and, by an RFC 9162 §2.1.4 consistency
  proof, against the latest checkpoint), or else the stored nodes at the checkpoint's size,
  whose root must be the signed one;
* the **scan** (background, bounded work per tick) re-hashes every stored entry from index
  0, comparing each leaf, each completed node and each checkpoint's root on the way (every
  checkpoint's signature is checked), and starts over once caught up and ``rescan_seconds``
  have passed.

Progress is remembered only from reads in a transaction of their own (``verify_head``,
``tick``), or from a sequencer batch once it committed (``remember_committed``): what a
caller's transaction sees may still be rolled back. An inconsistency is
final for the process: a repaired database is trusted again after a restart.

Not detectable here after a restart: the whole database (entries, nodes, checkpoints) put
back to an earlier consistent state. An auditor catches that offline with a checkpoint kept
elsewhere (``egate ledger verify --trusted-checkpoint``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from consent.config import IntegrityPolicy
from consent.ledger import repository
from consent.ledger.checkpoint import Checkpoint, CheckpointError, verify_signed_checkpoint
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.models import LedgerCheckpoint
from consent.ledger.repository import FrontierRow, LedgerStateError
from consent.ledger.rfc9162 import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    GetNode,
    consistency_proof,
    leaf_hash,
    verify_consistency,
)
from kit.db import DatabaseBusy, begin_read_only
from kit.thread_names import name_os_thread

LEDGER_INCONSISTENT = "urn:egate:problem:ledger-inconsistent"
"""The RFC 9457 problem type of every answer refused because the ledger is inconsistent."""

WALK_CHUNK = 1000
T = TypeVar("T")
log = logging.getLogger("consent.ledger.integrity")


class LedgerInconsistent(LedgerStateError):
    """The stored ledger disagrees with its signed checkpoints or with itself: nothing may
    be signed or appended over it. The reason names sizes and indices only, never data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingNode(LookupError):
    """A node a computation asked for is not stored (``args``: level, index)."""


@dataclass(frozen=True)
class IntegrityStatus:
    state: Literal["unchecked", "ok", "inconsistent"]
    reason: str | None = None
    verified_size: int = 0  # the head check's tree
    scanned_size: int = 0  # the scan's progress in its current pass
    scan_passes: int = 0  # full passes completed (the scan caught up with the head)

    @property
    def readiness(self) -> str:
        """``ok``, ``unchecked`` or ``inconsistent: <reason>``."""
        return f"inconsistent: {self.reason}" if self.state == "inconsistent" else self.state


def with_stored_nodes(db: Session, compute: Callable[[GetNode], T]) -> T:
    """Run a computation over stored nodes with every node it needs fetched in one query.

    The RFC 9162 recursions visit the same nodes whatever their hashes are, so a dry run
    with placeholder hashes lists them. Raises :class:`MissingNode` for one not stored.
    """
    wanted: list[tuple[int, int]] = []
    placeholder = bytes(HASH_SIZE)

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return placeholder

    compute(record)
    found = repository.nodes(db, wanted)

    def get_node(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise MissingNode(level, index) from None

    return compute(get_node)


def frontier_positions(size: int) -> Iterator[tuple[int, int]]:
    """(level, index) of the perfect subtrees a tree of ``size`` leaves splits into, largest first."""
    start = 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            yield level, start >> level
            start += 1 << level


def compact_range(state: FrontierRow) -> CompactRange:
    hashes = [state.hashes[i : i + HASH_SIZE] for i in range(0, len(state.hashes), HASH_SIZE)]
    try:
        return CompactRange.from_hashes(state.tree_size, hashes)
    except ValueError as error:
        raise LedgerInconsistent(f"the stored frontier is corrupt: {error}") from None


def _copy(tree: CompactRange) -> CompactRange:
    return CompactRange.from_hashes(tree.size, tree.to_hashes())


class LedgerIntegrity:
    """What this process knows of its ledger's integrity; safe to share between threads."""

    def __init__(self, policy: IntegrityPolicy | None = None) -> None:
        self.policy = policy or IntegrityPolicy()
        self._lock = threading.Lock()
        self._checked = False
        self._problem: str | None = None
        self._head: CompactRange | None = None  # verified from committed reads
        self._signed_size = 0  # the latest checkpoint's size, from committed reads
        self._scan = CompactRange()
        self._scan_started = time.monotonic()
        self._scan_passes = 0
        self._scan_caught_up = False
        self._keys: dict[str, tuple[str, Ed25519PublicKey]] = {}

    # -- state -----------------------------------------------------------------------------

    def status(self) -> IntegrityStatus:
        with self._lock:
            if self._problem is not None:
                state: Literal["unchecked", "ok", "inconsistent"] = "inconsistent"
            else:
                state = "ok" if self._checked else "unchecked"
            verified = self._head.size if self._head is not None else 0
            return IntegrityStatus(state, self._problem, verified, self._scan.size, self._scan_passes)

    def ensure_consistent(self) -> None:
        """Raise :class:`LedgerInconsistent` if an inconsistency was ever found (no query)."""
        problem = self._problem
        if problem is not None:
            raise LedgerInconsistent(problem)

    def report(self, reason: str) -> LedgerInconsistent:
        """Record an inconsistency found anywhere (the first reason is kept); return the
        exception to raise."""
        with self._lock:
            first = self._problem is None
            if first:
                self._problem = reason
        if first:
            log.error("disclosure ledger inconsistent: %s", reason)
        return LedgerInconsistent(reason)

    # -- the head check ----------------------------------------------------------------------

    def check_head(self, db: Session, state: FrontierRow, *, committed: bool = False) -> None:
        """The head check on ``state``, the frontier row read (and locked) by the caller.

        ``committed``: the caller's transaction wrote nothing, so what it read is committed
        and the verified tree may be remembered as the next check's starting point.
        """
        self.ensure_consistent()
        try:
            tree, signed_size = self._verified_head(db, state)
        except LedgerInconsistent as error:
            raise self.report(error.reason) from None
        with self._lock:
            self._checked = True
            if committed and (self._head is None or tree.size >= self._head.size):
                self._head = tree
            if committed:
                self._signed_size = max(self._signed_size, signed_size)

    def extends_remembered(self, state: FrontierRow) -> bool:
        """Whether ``state`` (read under the frontier lock) is exactly the tree this process
        last verified or committed over a verified head: a sequencer that holds its lease
        finds its own last batch there, and may integrate on it without the head check's
        queries. Anything else (another writer, a rollback, damage) gets the full check, and
        every signature does (see Ledger.integrate)."""
        with self._lock:
            head = self._head
            return (
                self._checked
                and head is not None
                and head.size == state.tree_size
                and b"".join(head.to_hashes()) == state.hashes
            )

    def remember_committed(self, tree: CompactRange, signed_size: int) -> None:
        """A tree this process stored over a head that passed the check, once the transaction
        that stored it committed (the sequencer's batches): the next check starts there."""
        with self._lock:
            self._checked = True
            if self._head is None or tree.size >= self._head.size:
                self._head = _copy(tree)
            self._signed_size = max(self._signed_size, signed_size)

    def verify_head(self, sessions: sessionmaker[Session]) -> IntegrityStatus:
        """The head check in a transaction of its own (start-up, readiness, background).

        Never raises: an inconsistency is recorded in the status, a database that does not
        answer (or is not migrated yet) leaves it as it was, to be tried again.
        """
        try:
            with sessions() as db:
                state = repository.lock_frontier(db)
                self.check_head(db, state, committed=True)
        except LedgerInconsistent:
            pass
        except LedgerStateError as error:  # the frontier row itself is gone
            self.report(str(error))
        except (SQLAlchemyError, DatabaseBusy) as error:
            log.warning("ledger integrity check could not read the database: %s", type(error).__name__)
        return self.status()

    def _verified_head(self, db: Session, state: FrontierRow) -> tuple[CompactRange, int]:
        stored = compact_range(state)
        size = stored.size
        latest = repository.latest_checkpoint(db)
        signed = self._verified_checkpoint(db, latest) if latest is not None else None
        signed_size, signed_root = (signed.tree_size, signed.root_hash) if signed else (0, EMPTY_ROOT)
        if signed_size > size:
            raise LedgerInconsistent(
                f"the tree (size {size}) is behind its latest signed checkpoint (size {signed_size})"
            )
        with self._lock:
            remembered = _copy(self._head) if self._head is not None else None
            signed_before = self._signed_size
        if signed_size < signed_before:
            raise LedgerInconsistent(
                f"the checkpoint at size {signed_before} is gone (the latest is now at size {signed_size})"
            )
        if remembered is not None and remembered.size > size:
            raise LedgerInconsistent(
                f"the tree shrank to size {size} after {remembered.size} entries were verified"
            )
        stray = repository.first_row_past(db, size)
        if stray is not None:
            raise LedgerInconsistent(f"{stray} lies past the end of the tree (size {size})")
        if remembered is not None and remembered.size >= signed_size:
            tree = self._remembered_base(db, remembered, signed_size, signed_root)
        else:
            tree = self._checkpoint_base(db, signed_size, signed_root)
        walk(db, tree, size)
        if tree.to_hashes() != stored.to_hashes():
            raise LedgerInconsistent(f"the stored frontier (size {size}) does not match the stored entries")
        return tree, signed_size

    def _remembered_base(
        self, db: Session, remembered: CompactRange, signed_size: int, signed_root: bytes
    ) -> CompactRange:
        """The tree verified before, if the store still holds it and it extends the latest checkpoint."""
        size = remembered.size

        def compute(get_node: GetNode) -> tuple[list[bytes], list[bytes]]:
            here = [get_node(level, index) for level, index in frontier_positions(size)]
            return here, consistency_proof(signed_size, size, get_node)

        here, proof = _nodes_or_inconsistent(db, compute)
        if here != remembered.to_hashes():
            raise LedgerInconsistent(f"the stored tree at size {size}, verified before, has changed")
        if not verify_consistency(signed_size, size, signed_root, remembered.root(), proof):
            raise LedgerInconsistent(
                f"the latest signed checkpoint (size {signed_size}) is not a prefix of the tree"
                f" verified at size {size}"
            )
        return remembered

    @staticmethod
    def _checkpoint_base(db: Session, signed_size: int, signed_root: bytes) -> CompactRange:
        """The stored nodes at the latest checkpoint's size; their root must be the signed one."""

        def compute(get_node: GetNode) -> CompactRange:
            hashes = [get_node(level, index) for level, index in frontier_positions(signed_size)]
            return CompactRange.from_hashes(signed_size, hashes)

        tree = _nodes_or_inconsistent(db, compute)
        if tree.root() != signed_root:
            raise LedgerInconsistent(
                f"the stored tree at size {signed_size} does not match its signed checkpoint"
            )
        return tree

    def _verified_checkpoint(self, db: Session, row: LedgerCheckpoint) -> Checkpoint:
        """The checkpoint as its note says, once the note verifies and agrees with its row."""
        key = self._keys.get(row.key_id)
        if key is None:
            key_row = repository.signing_key(db, row.key_id)
            if key_row is None:
                raise LedgerInconsistent(f"the key of the checkpoint at size {row.tree_size} is gone")
            # Remembered: a public key swapped in the database later does not fool this process.
            key = self._keys.setdefault(
                row.key_id, (key_row.key_name, Ed25519PublicKey.from_public_bytes(bytes(key_row.public_key)))
            )
        try:
            checkpoint = verify_signed_checkpoint(row.note, key[1], key[0])
        except CheckpointError:
            raise LedgerInconsistent(
                f"the checkpoint at size {row.tree_size} does not verify with its key"
            ) from None
        if checkpoint.tree_size != row.tree_size or checkpoint.root_hash != bytes(row.root_hash):
            raise LedgerInconsistent(
                f"the checkpoint stored at size {row.tree_size} signs size {checkpoint.tree_size}"
                " or another root"
            )
        return checkpoint

    # -- the scan ------------------------------------------------------------------------------

    def scan(self, db: Session, max_entries: int) -> bool:
        """Re-hash the next ``max_entries`` stored entries; True once caught up with the head."""
        self.ensure_consistent()
        try:
            return self._scan_step(db, max_entries)
        except LedgerInconsistent as error:
            raise self.report(error.reason) from None

    def _scan_step(self, db: Session, max_entries: int) -> bool:
        state = repository.read_frontier(db)
        stored = compact_range(state)
        with self._lock:
            tree = _copy(self._scan)
        if tree.size > stored.size:
            raise LedgerInconsistent(
                f"the tree shrank to size {stored.size} after {tree.size} entries were scanned"
            )
        end = min(stored.size, tree.size + max_entries)
        roots: dict[int, bytes] = {}
        low = tree.size + 1 if tree.size else 0  # checkpoints at the scan's size were checked
        for row in repository.checkpoints_between(db, low, end):
            checkpoint = self._verified_checkpoint(db, row)
            if roots.setdefault(checkpoint.tree_size, checkpoint.root_hash) != checkpoint.root_hash:
                raise LedgerInconsistent(
                    f"two checkpoints at size {checkpoint.tree_size} sign different roots"
                )
        if roots.get(0, EMPTY_ROOT) != EMPTY_ROOT:
            raise LedgerInconsistent("the checkpoint at size 0 does not sign the empty tree")
        walk(db, tree, end, roots)
        caught_up = end == stored.size
        if caught_up and tree.to_hashes() != stored.to_hashes():
            raise LedgerInconsistent(
                f"the stored frontier (size {stored.size}) does not match the stored entries"
            )
        with self._lock:
            if self._scan.size <= tree.size:
                self._scan = tree
                if caught_up and not self._scan_caught_up:
                    self._scan_passes += 1
                self._scan_caught_up = caught_up
            self._checked = True
        return caught_up

    def restart_scan(self) -> None:
        with self._lock:
            self._scan = CompactRange()
            self._scan_started = time.monotonic()
            self._scan_caught_up = False

    # -- background --------------------------------------------------------------------------

    def tick(self, sessions: sessionmaker[Session]) -> IntegrityStatus:
        """One background step: the head check, then a slice of the scan, each in a short
        transaction of its own. Never raises; the outcome is in the status."""
        if self._problem is not None:
            return self.status()
        self.verify_head(sessions)
        try:
            with sessions() as db:
                # Only reads, of rows that never change once below the frontier it reads
                # first: on SQLite outside the write lock, which a scan of a thousand
                # entries (tens of milliseconds) held every few seconds, stalling every
                # request that writes.
                begin_read_only(db)
                caught_up = self.scan(db, self.policy.entries_per_tick)
        except LedgerInconsistent:
            return self.status()
        except LedgerStateError as error:
            self.report(str(error))
            return self.status()
        except (SQLAlchemyError, DatabaseBusy) as error:
            log.warning("ledger integrity scan could not read the database: %s", type(error).__name__)
            return self.status()
        if caught_up and time.monotonic() - self._scan_started >= self.policy.rescan_seconds:
            self.restart_scan()
        return self.status()


def walk(db: Session, tree: CompactRange, end: int, roots: Mapping[int, bytes] | None = None) -> None:
    """Extend ``tree`` by the stored entries ``tree.size .. end - 1``: each must be present,
    hash to its stored leaf, and the nodes its leaf completes must be stored as computed;
    at each size in ``roots`` the root must be the one given."""
    roots = roots or {}
    while tree.size < end:
        start = tree.size
        stop = min(start + WALK_CHUNK, end)
        rows = repository.leaf_rows(db, start, stop)
        completed: dict[tuple[int, int], bytes] = {}
        for expected, row in enumerate(rows, start):
            if row[0] != expected:
                raise LedgerInconsistent(f"entry {expected} is missing")
            digest = leaf_hash(canonical_entry_bytes(repository.entry_from_row(row)))
            if digest != bytes(row[-1]):
                raise LedgerInconsistent(f"entry {expected} does not match its stored leaf hash")
            for node in tree.append_nodes(digest)[1:]:
                completed[node.level, node.index] = node.hash
            signed_root = roots.get(tree.size)
            if signed_root is not None and tree.root() != signed_root:
                raise LedgerInconsistent(
                    f"the entries before the checkpoint at size {tree.size} do not match its root"
                )
        if len(rows) != stop - start:
            raise LedgerInconsistent(f"entry {start + len(rows)} is missing")
        stored = repository.nodes(db, completed)
        for (level, index), digest in completed.items():
            found = stored.get((level, index))
            if found is None:
                raise LedgerInconsistent(f"the Merkle node at level {level}, index {index} is missing")
            if found != digest:
                raise LedgerInconsistent(
                    f"the Merkle node at level {level}, index {index} does not match the entries"
                )


def _nodes_or_inconsistent(db: Session, compute: Callable[[GetNode], T]) -> T:
    try:
        return with_stored_nodes(db, compute)
    except MissingNode as missing:
        level, index = missing.args
        if level == 0:
            raise LedgerInconsistent(f"entry {index} is missing") from None
        raise LedgerInconsistent(f"the Merkle node at level {level}, index {index} is missing") from None


class BackgroundVerification:
    """A daemon thread running :meth:`LedgerIntegrity.tick` every ``interval_seconds``.

    It needs connections of its own: a session factory bound to one connection (as tests
    bind theirs) cannot be shared with a second thread, so :func:`can_run_beside` says no.
    """

    def __init__(self, integrity: LedgerIntegrity, sessions: sessionmaker[Session]) -> None:
        self.integrity = integrity
        self.sessions = sessions
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-verify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        name_os_thread()
        while not self._stop.wait(self.integrity.policy.interval_seconds):
            try:
                self.integrity.tick(self.sessions)
            except Exception:  # the verifier must outlive any one failure; tick already logs its own
                log.exception("ledger integrity tick failed")


def can_run_beside(sessions: sessionmaker[Session]) -> bool:
    """Whether another thread may open sessions of this factory concurrently (it is bound
    to an engine, which hands each thread a connection of its own)."""
    return not isinstance(sessions.kw.get("bind"), Connection)
