"""The disclosure ledger's operations: append, sign checkpoints, prove, export, read.

Appending follows RFC 9162 §2.1: the entry's canonical bytes
(:func:`consent.ledger.entry.canonical_entry_bytes`) are the leaf, the persisted compact
range is the right-hand frontier, and the new leaf completes at most ``log2(n) + 1``
perfect subtrees, stored as rows. Nothing is ever re-hashed; proofs read O(log n) rows.

A release of claims does not append: it *enqueues* (:meth:`Ledger.enqueue`), which only
inserts the entry, without its index, into the sequencing queue in the caller's
transaction (the release it records), taking no lock. One sequencer
(:mod:`consent.ledger.sequencer`) then *integrates* queued entries in batches
(:meth:`Ledger.integrate`): under the frontier row lock it takes the oldest queued rows out
of the queue, gives them their indices, stores leaves, nodes and the moved frontier, and
signs one checkpoint per batch, all in one transaction, so every accepted entry is
integrated exactly once whoever integrates it and whenever a sequencer dies. This is the
shape of Trillian's and Tessera's sequencers. On SQLite, whose one write lock every request's
writes wait for, the sequencer reads and hashes a batch first in a transaction that only
reads (:meth:`Ledger.prepare`) and stores it in the write transaction only if the frontier
has not moved meanwhile (:meth:`Ledger.store`). :meth:`Ledger.append_many` integrates
given entries directly (tools, benchmarks, tests); it holds the frontier lock until the
caller's transaction ends.

Services never commit: the request, the sequencer or the command owns the transaction.

The ledger checks itself (:mod:`consent.ledger.integrity`) before it signs anything, and
once found inconsistent it neither signs nor appends: :class:`LedgerInconsistent`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from consent.config import CheckpointPolicy
from consent.ledger import keystore, repository
from consent.ledger.checkpoint import (
    Checkpoint,
    key_id,
    public_key_to_vkey,
    sign_checkpoint,
)
from consent.ledger.entry import BASES, canonical_entry_bytes, entry_problem, rfc3339_utc
from consent.ledger.integrity import (
    LedgerInconsistent,
    LedgerIntegrity,
    MissingNode,
    compact_range,
    with_stored_nodes,
)
from consent.ledger.metrics import DISCLOSURES
from consent.ledger.models import (
    AuditAccess,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerSigningKey,
    QueuedDisclosure,
)
from consent.ledger.repository import Claimed, EntryFilter, FrontierRow, LedgerStateError, entry_from_row
from consent.ledger.rfc9162 import (
    CompactRange,
    GetNode,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_nodes,
)
from consent.ledger.verifier import export_checkpoint_line, export_entry_line
from kit.reads_first import RowsInsert, insert_now_or_after_reads

BASIS_CONSENT = "consent"
BASIS_LEGAL = "legal"
# A resident's own sign-in reveals only their pairwise ``sub`` to the department they chose;
# no grant and no statutory basis is involved, yet it is a disclosure and is recorded.
BASIS_SIGN_IN = "sign-in"
EXPORT_CHUNK = 5000
T = TypeVar("T")

__all__ = [
    "BASIS_CONSENT",
    "BASIS_LEGAL",
    "BASIS_SIGN_IN",
    "Appended",
    "ConsistencyProof",
    "Disclosure",
    "DisclosureView",
    "Integrated",
    "EntryFilter",
    "ExportPlan",
    "InclusionProof",
    "InvalidDisclosure",
    "Ledger",
    "LedgerInconsistent",
    "LedgerKeyUnavailable",
    "LedgerStateError",
    "ProofRangeError",
    "SignedCheckpoint",
    "VerifierKeyInfo",
    "list_disclosures",
    "query_disclosures",
]


class InvalidDisclosure(ValueError):
    """A disclosure that cannot be a ledger entry (e.g. no fields, empty purpose)."""


class ProofRangeError(ValueError):
    """A proof or checkpoint was asked for sizes or indices the log does not have."""


class LedgerKeyUnavailable(RuntimeError):
    """Signing needs the master secret, which this ledger was built without."""


@dataclass(frozen=True)
class Disclosure:
    """One release of a resident's field names to a recipient, as the caller describes it."""

    resident_id: str
    recipient_client_id: str
    recipient_department: str
    channel: str
    fields: Sequence[str]
    purpose: str
    grant_id: str | None
    legal_basis: str | None
    request_id: str | None


@dataclass(frozen=True)
class Appended:
    index: int
    entry_id: str
    leaf_hash: bytes


@dataclass(frozen=True)
class Integrated:
    """One batch moved from the queue into the tree by :meth:`Ledger.integrate`."""

    first_index: int
    count: int
    tree: CompactRange  # the tree after the batch
    checkpoint: SignedCheckpoint | None  # signed over ``tree``
    verified: bool  # the head check passed on the tree the batch extends
    recorded_at: list[datetime]  # of each entry, in order (integration lag)

    @property
    def tree_size(self) -> int:
        return self.first_index + self.count


@dataclass(frozen=True)
class PreparedBatch:
    """Queued entries placed in the tree that ``state`` stores (:meth:`Ledger.prepare`), for
    :meth:`Ledger.store` to store if the frontier is still ``state`` then."""

    state: FrontierRow
    claimed: list[Claimed]
    leaves: list[tuple[int, bytes]]  # (index, leaf hash) of each claimed entry, in order
    node_rows: list[dict[str, Any]]  # the nodes the leaves complete
    tree: CompactRange  # the tree after the batch
    verified: bool  # the head check passed on ``state`` (a ledger with a master key)


@dataclass(frozen=True)
class DisclosureView:
    """A ledger entry as read back: what a resident, department or auditor is shown.
    ``index`` and ``leaf_hash`` are None while the entry waits in the sequencing queue."""

    index: int | None
    entry_id: str
    recorded_at: datetime
    resident_id: str
    recipient_client_id: str
    recipient_department: str
    channel: str
    fields: tuple[str, ...]
    purpose: str
    basis: str
    grant_id: str | None
    legal_basis: str | None
    request_id: str
    leaf_hash: bytes | None

    @property
    def integrated(self) -> bool:
        return self.index is not None

    @classmethod
    def pending(cls, row: QueuedDisclosure) -> DisclosureView:
        return cls(index=None, leaf_hash=None, **_entry_fields(row))

    @classmethod
    def of(cls, row: LedgerEntry) -> DisclosureView:
        return cls(index=row.index, leaf_hash=bytes(row.leaf_hash), **_entry_fields(row))

    def entry(self) -> dict[str, Any]:
        """The entry exactly as hashed (see consent.ledger.entry); ``index`` None while queued."""
        return {
            "index": self.index,
            "entry_id": self.entry_id,
            "recorded_at": rfc3339_utc(self.recorded_at),
            "resident_id": self.resident_id,
            "recipient_client_id": self.recipient_client_id,
            "recipient_department": self.recipient_department,
            "channel": self.channel,
            "fields": list(self.fields),
            "purpose": self.purpose,
            "basis": self.basis,
            "grant_id": self.grant_id,
            "legal_basis": self.legal_basis,
            "request_id": self.request_id,
        }


def _entry_fields(row: QueuedDisclosure | LedgerEntry) -> dict[str, Any]:
    """What a queued and an integrated entry share: the disclosure itself."""
    return dict(
        entry_id=row.entry_id,
        recorded_at=row.recorded_at,
        resident_id=row.resident_id,
        recipient_client_id=row.recipient_client_id,
        recipient_department=row.recipient_department,
        channel=row.channel,
        fields=tuple(row.fields),
        purpose=row.purpose,
        basis=row.basis,
        grant_id=row.grant_id,
        legal_basis=row.legal_basis,
        request_id=row.request_id,
    )


@dataclass(frozen=True)
class SignedCheckpoint:
    tree_size: int
    root_hash: bytes
    timestamp: int
    signed_at: datetime
    key_id: str
    note: str

    @classmethod
    def of(cls, row: LedgerCheckpoint) -> SignedCheckpoint:
        return cls(row.tree_size, bytes(row.root_hash), row.timestamp, row.signed_at, row.key_id, row.note)


@dataclass(frozen=True)
class VerifierKeyInfo:
    origin: str
    key_name: str
    key_id: str
    public_key: bytes  # raw Ed25519, 32 bytes
    vkey: str  # c2sp.org/signed-note verifier key


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    path: list[bytes]


@dataclass(frozen=True)
class ExportPlan:
    """An export checked and ready to stream: its size and the checkpoints by size."""

    through: int
    notes: dict[int, list[str]]


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: list[bytes]


def entry_basis(grant_id: str | None, legal_basis: str | None) -> str:
    if grant_id is not None:
        return BASIS_CONSENT
    if legal_basis is not None:
        return BASIS_LEGAL
    return BASIS_SIGN_IN


def _entry_problem(entry: dict[str, Any]) -> str | None:
    if entry["basis"] != BASIS_SIGN_IN or BASIS_SIGN_IN in BASES:
        return entry_problem(entry)
    # The pure core does not know the sign-in basis yet (consent.ledger.entry.BASES): check
    # everything else with it, and the sign-in rule (neither grant nor legal basis) here.
    if entry["grant_id"] is not None or entry["legal_basis"] is not None:
        return "entry with basis 'sign-in' must have neither grant_id nor legal_basis"
    return entry_problem({**entry, "basis": BASIS_LEGAL, "legal_basis": BASIS_SIGN_IN})


def _new_entry_id() -> str:
    return "dl-" + secrets.token_hex(16)


def _write_queued(db: Session, queued: Sequence[Mapping[str, Any]]) -> None:
    """Insert accepted disclosures into the sequencing queue; one writer for every request,
    so that a batch of them is one insert (``kit.reads_first.RowsInsert``)."""
    with repository.appending(db) as storage:
        storage.enqueue(queued)
    DISCLOSURES.inc(len(queued))


class Ledger:
    """The ledger of one deployment. ``master_key`` opens the checkpoint signing key; a
    ledger built without it appends and proves but leaves signing to one that has it."""

    def __init__(
        self,
        *,
        origin: str,
        master_key: bytes | None,
        policy: CheckpointPolicy | None = None,
        integrity: LedgerIntegrity | None = None,
    ) -> None:
        self.origin = origin
        self._master_key = master_key
        self.policy = policy or CheckpointPolicy()
        self.integrity = integrity or LedgerIntegrity()
        self._unsealed: dict[str, Ed25519PrivateKey] = {}
        # The frontier as this process last wrote it: only a guess to check against the
        # stored row (see _append_unless_moved), never a source of truth.
        self._frontier_hint: FrontierRow | None = None

    @property
    def can_sign(self) -> bool:
        """Whether this ledger holds the master key that opens the checkpoint signing key."""
        return self._master_key is not None

    # -- accepting (the request's transaction) ----------------------------------------------

    def enqueue(self, db: Session, disclosure: Disclosure, now: datetime) -> str:
        """Accept one disclosure in the caller's transaction; returns its entry id. The entry
        gets its index when the sequencer integrates it; until then readers see it pending."""
        return self.enqueue_many(db, [disclosure], now)[0]

    def enqueue_many(self, db: Session, disclosures: Sequence[Disclosure], now: datetime) -> list[str]:
        if not disclosures:
            return []
        entries = [self._entry(d, now) for d in disclosures]
        self.integrity.ensure_consistent()
        queued = [{k: v for k, v in entry.items() if k != "index"} for entry in entries]

        # A queued entry is an insert: in reads-first work it is written once the request's
        # reads have ended, before anything is answered (kit.reads_first).
        insert_now_or_after_reads(db, RowsInsert(_write_queued, queued))
        return [entry["entry_id"] for entry in entries]

    # -- integrating (the sequencer's transaction) ---------------------------------------------

    def integrate(self, db: Session, now: datetime, *, limit: int, sign: bool = True) -> Integrated | None:
        """Move up to ``limit`` of the oldest queued entries into the tree, in the caller's
        transaction, once the head check passed on the tree they extend (with a master key),
        and sign one checkpoint over the result if ``sign``. None when the queue is empty.

        The queued rows are taken under the frontier row lock and deleted in the transaction
        that stores them as entries: a sequencer that dies mid-batch leaves them queued. The
        sequencer does the same in two transactions (:meth:`prepare`, then :meth:`store`)."""
        prepared = self.prepare(db, limit=limit, check_head=sign, lock=True)
        return self._save(db, prepared, now, sign=sign) if prepared is not None else None

    def prepare(
        self, db: Session, *, limit: int, check_head: bool, lock: bool = False
    ) -> PreparedBatch | None:
        """The oldest ``limit`` queued entries placed in the tree as the frontier stores it
        now: their leaves, the nodes they complete and the tree they make. None when the
        queue is empty. Nothing is written, so ``db`` may be in a transaction that only
        reads (the sequencer's: a batch's hashing then holds no write lock, which on SQLite
        every request's writes wait for); ``lock`` takes the frontier row lock for a caller
        that stores in the same transaction.

        The head check runs here, on the tree the batch extends, whenever this ledger could
        sign and either ``check_head`` or the tree is not the one this process last
        committed (an unsigned batch on its own last batch skips the check's queries: a
        sequencer under load paid a tenth of a second for them per batch)."""
        self.integrity.ensure_consistent()
        with repository.appending(db) as storage:
            state = storage.lock() if lock else storage.read()
            claimed = storage.claim(limit)
        if not claimed:
            return None
        tree = compact_range(state)
        leaves, node_rows = [], []
        for row in claimed:
            index = row.entry["index"] = tree.size
            digest = leaf_hash(canonical_entry_bytes(row.entry))
            leaves.append((index, digest))
            for node in tree.append_nodes(digest)[1:]:
                node_rows.append({"level": node.level, "index": node.index, "hash": node.hash})
        verified = self._master_key is not None
        if verified and (check_head or not self.integrity.extends_remembered(state)):
            self.integrity.check_head(db, state)
        return PreparedBatch(state, claimed, leaves, node_rows, tree, verified)

    def store(self, db: Session, batch: PreparedBatch, now: datetime, *, sign: bool) -> Integrated | None:
        """Store a prepared batch in the caller's write transaction, signing a checkpoint over
        it if ``sign``: under the frontier row lock, the entries taken out of the queue and
        stored at their indices, their nodes and the moved frontier. None, with nothing
        written, when the frontier is no longer the one the batch was prepared on (another
        sequencer integrated meanwhile): the batch is prepared again."""
        self.integrity.ensure_consistent()
        with repository.appending(db) as storage:
            if storage.lock() != batch.state:
                return None
        return self._save(db, batch, now, sign=sign)

    def _save(self, db: Session, batch: PreparedBatch, now: datetime, *, sign: bool) -> Integrated:
        """Write a batch prepared on the frontier that the caller's transaction holds locked."""
        state = batch.state
        try:
            with repository.appending(db) as storage:
                moved = _moved(batch.tree, state)
                checkpoint = None
                if sign and batch.verified:
                    checkpoint = self._sign(db, batch.tree, now)
                    moved.update(checkpoint_size=checkpoint.tree_size, checkpoint_at=now)
                storage.save_claimed(batch.claimed, batch.leaves, batch.node_rows, moved)
        except IntegrityError as error:
            raise self.integrity.report(
                "a stored row already occupies a position past the end of the tree"
                f" (size {state.tree_size}), or a queued entry is already in the tree"
            ) from error
        self._frontier_hint = FrontierRow(**moved)
        return Integrated(
            first_index=state.tree_size,
            count=len(batch.claimed),
            tree=batch.tree,
            checkpoint=checkpoint,
            verified=batch.verified,
            recorded_at=[row.recorded_at for row in batch.claimed],
        )

    def integrated(self, batch: Integrated) -> None:
        """Tell the integrity state that ``batch`` committed: the tree it built, on a head
        that was checked, is now the stored one, so the next head check starts there
        instead of re-hashing every entry since the last background tick."""
        if batch.verified:
            signed = batch.checkpoint.tree_size if batch.checkpoint is not None else 0
            self.integrity.remember_committed(batch.tree, signed)

    def queue_status(self, db: Session) -> tuple[int, datetime | None]:
        """How many accepted entries wait for integration, and the oldest one's time."""
        return repository.queue_head(db)

    # -- appending directly (tools, benchmarks, tests) ------------------------------------------

    def append(self, db: Session, disclosure: Disclosure, now: datetime) -> Appended:
        return self.append_many(db, [disclosure], now)[0]

    def append_many(self, db: Session, disclosures: Sequence[Disclosure], now: datetime) -> list[Appended]:
        """Append entries in order, in the caller's transaction, bypassing the queue; O(log n)
        work per entry. The frontier lock is held until the caller's transaction ends."""
        if not disclosures:
            return []
        # Validate before taking the lock: a bad disclosure should not queue other writers.
        entries = [self._entry(d, now) for d in disclosures]
        self.integrity.ensure_consistent()
        end: int | None = None
        try:
            with repository.appending(db) as storage:
                hint = self._frontier_hint
                if storage.optimistic and hint is not None and len(entries) == 1:
                    end = hint.tree_size
                    appended = self._append_unless_moved(storage, entries, hint, now)
                    if appended is not None:
                        return appended
                state = storage.lock()
                end = state.tree_size
                appended, entry_rows, node_rows, frontier = self._grow(entries, state)
                moved = _moved(frontier, state)
                if self._checkpoint_due(state, frontier.size, now):
                    self.integrity.check_head(db, state)
                    checkpoint = self._sign(db, frontier, now)
                    moved.update(checkpoint_size=checkpoint.tree_size, checkpoint_at=now)
                storage.save(entry_rows, node_rows, moved)
        except IntegrityError as error:
            # Indices and node positions come from the frontier, which no other writer holds:
            # a clash means rows were stored past the end of the tree behind the ledger's back.
            # (On PostgreSQL the failed statement ends the transaction: nothing more is read.)
            raise self.integrity.report(
                f"a stored row already occupies a position past the end of the tree (size {end})"
            ) from error
        self._frontier_hint = FrontierRow(**moved)
        return appended

    def _append_unless_moved(
        self, storage: repository.Appending, entries: list[dict[str, Any]], hint: FrontierRow, now: datetime
    ) -> list[Appended] | None:
        """One round trip instead of two: build on the frontier this process last wrote and
        let the database check it is still the one stored (compare-and-set). The hint is
        never trusted: if another writer (process, thread, or a rollback) moved the
        frontier, nothing is written and the caller takes the lock and reads it."""
        if self._checkpoint_due(hint, hint.tree_size + 1, now):
            return None  # signing needs the locked, read state
        appended, entry_rows, node_rows, frontier = self._grow(entries, hint)
        moved = _moved(frontier, hint)
        if not storage.save_if_unchanged(hint, entry_rows[0], node_rows, moved):
            return None
        self._frontier_hint = FrontierRow(**moved)
        return appended

    @staticmethod
    def _grow(
        entries: list[dict[str, Any]], state: FrontierRow
    ) -> tuple[list[Appended], list[dict[str, Any]], list[dict[str, Any]], CompactRange]:
        """Give ``entries`` (``recorded_at`` a datetime) their indices after ``state``: the
        rows to store and the tree they make."""
        frontier = compact_range(state)
        entry_rows, node_rows, appended = [], [], []
        for entry in entries:
            index = entry["index"] = frontier.size
            digest = leaf_hash(
                canonical_entry_bytes({**entry, "recorded_at": rfc3339_utc(entry["recorded_at"])})
            )
            # Level 0 is the entry's own leaf_hash column; the rest are stored as nodes.
            for node in frontier.append_nodes(digest)[1:]:
                node_rows.append({"level": node.level, "index": node.index, "hash": node.hash})
            entry_rows.append({**entry, "leaf_hash": digest})
            appended.append(Appended(index, entry["entry_id"], digest))
        return appended, entry_rows, node_rows, frontier

    def _entry(self, d: Disclosure, recorded_at: datetime) -> dict[str, Any]:
        fields = sorted(set(d.fields))
        entry = {
            "index": 0,
            "entry_id": _new_entry_id(),
            "recorded_at": rfc3339_utc(recorded_at),
            "resident_id": d.resident_id,
            "recipient_client_id": d.recipient_client_id,
            "recipient_department": d.recipient_department,
            "channel": d.channel,
            "fields": fields,
            "purpose": d.purpose,
            "basis": entry_basis(d.grant_id, d.legal_basis),
            "grant_id": d.grant_id,
            "legal_basis": d.legal_basis,
            "request_id": d.request_id or "unattributed-" + secrets.token_hex(8),
        }
        problem = _entry_problem(entry)
        if problem is not None:
            raise InvalidDisclosure(problem)
        entry["recorded_at"] = recorded_at
        return entry

    def _checkpoint_due(self, state: FrontierRow, size: int, now: datetime) -> bool:
        policy = self.policy
        if not policy.sign_on_append or self._master_key is None:
            return False
        if state.checkpoint_at is None or size - state.checkpoint_size >= policy.max_entries:
            return True
        return now - state.checkpoint_at >= policy.max_age

    # -- checkpoints and keys ------------------------------------------------------------

    def sign_checkpoint(self, db: Session, now: datetime) -> SignedCheckpoint:
        """Sign the current tree head now (on demand: the CLI, an auditor, an admin), once
        the head check passed; raises :class:`LedgerInconsistent` otherwise."""
        state = repository.lock_frontier(db)
        self.integrity.check_head(db, state)
        frontier = compact_range(state)
        checkpoint = self._sign(db, frontier, now)
        repository.save_frontier(
            db, state.tree_size, state.hashes, checkpoint_size=frontier.size, checkpoint_at=now
        )
        return checkpoint

    def _sign(self, db: Session, frontier: CompactRange, now: datetime) -> SignedCheckpoint:
        # Called with the frontier row locked (so two signers never create two keys) and
        # after the head check passed on it.
        key_row, private_key = self._signing_key(db, now)
        body = Checkpoint(key_row.origin, frontier.size, frontier.root(), int(now.timestamp()))
        row = LedgerCheckpoint(
            tree_size=body.tree_size,
            root_hash=body.root_hash,
            timestamp=body.timestamp,
            signed_at=now,
            key_id=key_row.key_id,
            note=sign_checkpoint(body, private_key, key_row.key_name),
        )
        repository.add_checkpoint(db, row)
        return SignedCheckpoint.of(row)

    def _signing_key(self, db: Session, now: datetime) -> tuple[LedgerSigningKey, Ed25519PrivateKey]:
        if self._master_key is None:
            raise LedgerKeyUnavailable("this ledger was built without the master secret: it cannot sign")
        row = repository.active_signing_key(db)
        if row is None:
            private_key = Ed25519PrivateKey.generate()
            public_key = private_key.public_key()
            identifier = key_id(self.origin, public_key).hex()
            row = LedgerSigningKey(
                key_id=identifier,
                origin=self.origin,
                key_name=self.origin,
                public_key=public_key.public_bytes(Encoding.Raw, PublicFormat.Raw),
                private_key_sealed=keystore.seal(self._master_key, private_key, identifier),
                created_at=now,
            )
            repository.add_signing_key(db, row)
            self._unsealed[identifier] = private_key
        if row.key_id not in self._unsealed:
            self._unsealed[row.key_id] = keystore.unseal(self._master_key, row.private_key_sealed, row.key_id)
        return row, self._unsealed[row.key_id]

    def verifier_key(self, db: Session, now: datetime) -> VerifierKeyInfo:
        """The public key auditors verify checkpoints with (created on first use)."""
        row = repository.active_signing_key(db)
        if row is None:
            repository.lock_frontier(db)
            row, _ = self._signing_key(db, now)
        return VerifierKeyInfo(
            origin=row.origin,
            key_name=row.key_name,
            key_id=row.key_id,
            public_key=bytes(row.public_key),
            vkey=public_key_to_vkey(row.key_name, Ed25519PublicKey.from_public_bytes(bytes(row.public_key))),
        )

    # -- reading the tree ----------------------------------------------------------------

    def tree_size(self, db: Session) -> int:
        return repository.read_frontier(db).tree_size

    def latest_checkpoint(self, db: Session, tree_size: int | None = None) -> SignedCheckpoint | None:
        row = repository.latest_checkpoint(db, tree_size)
        return SignedCheckpoint.of(row) if row else None

    def root(self, db: Session, tree_size: int) -> bytes:
        return self._read_nodes(db, tree_size, lambda get_node: root_from_nodes(tree_size, get_node))

    def _read_nodes(self, db: Session, tree_size: int, compute: Callable[[GetNode], T]) -> T:
        """Run a proof computation over the stored tree of ``tree_size``.

        Every node of a size the log has reached exists; a missing one means the size is
        beyond the log (checked only then, to save a query on the common path) or the
        tables were damaged, which makes the ledger inconsistent.
        """
        if tree_size < 0:
            raise ProofRangeError(f"tree size {tree_size} is negative")
        try:
            return with_stored_nodes(db, compute)
        except MissingNode as missing:
            size = repository.read_frontier(db).tree_size
            if tree_size > size:
                raise ProofRangeError(f"tree size {tree_size} is outside 0..{size}") from None
            level, index = missing.args
            what = f"entry {index}" if level == 0 else f"the Merkle node at level {level}, index {index}"
            raise self.integrity.report(f"{what} is missing") from None

    def inclusion_proof(self, db: Session, leaf_index: int, tree_size: int) -> InclusionProof:
        """PATH(leaf_index, D[tree_size]) with its root (RFC 9162 §2.1.3.1)."""
        if not 0 <= leaf_index < tree_size:
            raise ProofRangeError(f"entry {leaf_index} is not in a tree of size {tree_size}")

        def compute(get_node: GetNode) -> tuple[bytes, bytes, list[bytes]]:
            return (
                get_node(0, leaf_index),
                root_from_nodes(tree_size, get_node),
                inclusion_proof(leaf_index, tree_size, get_node),
            )

        leaf, root, path = self._read_nodes(db, tree_size, compute)
        return InclusionProof(leaf_index, tree_size, leaf, root, path)

    def consistency_proof(self, db: Session, old_size: int, new_size: int) -> ConsistencyProof:
        """PROOF(old_size, D[new_size]) with both roots (RFC 9162 §2.1.4.1)."""
        if not 0 <= old_size <= new_size:
            raise ProofRangeError(f"cannot prove size {old_size} consistent with size {new_size}")

        def compute(get_node: GetNode) -> tuple[bytes, bytes, list[bytes]]:
            return (
                root_from_nodes(old_size, get_node),
                root_from_nodes(new_size, get_node),
                consistency_proof(old_size, new_size, get_node),
            )

        old_root, new_root, path = self._read_nodes(db, new_size, compute)
        return ConsistencyProof(old_size, new_size, old_root, new_root, path)

    # -- export --------------------------------------------------------------------------

    def export_lines(self, sessions: sessionmaker[Session], *, through: int | None = None) -> Iterator[str]:
        """The offline verifier's JSON lines (consent.ledger.verifier), entries
        ``0..through - 1`` (default: all) with each checkpoint right after its last entry.

        Checked before the first line (see :meth:`prepare_export`), then read in short
        transactions of EXPORT_CHUNK entries, so a long export never holds the SQLite write
        lock for long; entries and checkpoints never change, so the chunks add up to a
        consistent export. An entry found missing while streaming anyway raises
        :class:`LedgerInconsistent` from the iterator.
        """
        with sessions() as db:
            plan = self.prepare_export(db, through)
        return self.export_stream(sessions, plan)

    def prepare_export(self, db: Session, through: int | None = None) -> ExportPlan:
        """What an export will hold, checked so that an HTTP answer can still be an error
        rather than a 200 cut short: ``through`` (default: all) must be within the log and
        every entry below it stored (else :class:`LedgerInconsistent`)."""
        size = self.tree_size(db)
        through = size if through is None else through
        if not 0 <= through <= size:
            latest = repository.latest_checkpoint(db)
            if latest is not None and latest.tree_size > size:
                raise self.integrity.report(
                    f"the tree (size {size}) is behind its latest signed checkpoint (size {latest.tree_size})"
                )
            raise ProofRangeError(f"export size {through} is outside 0..{size}")
        stored = repository.count_entries_below(db, through)
        if stored != through:
            raise self.integrity.report(f"{through - stored} of the entries below {through} are missing")
        notes: dict[int, list[str]] = {}
        for tree_size, note in repository.checkpoint_notes_up_to(db, through):
            notes.setdefault(tree_size, []).append(note)
        return ExportPlan(through, notes)

    def export_stream(self, sessions: sessionmaker[Session], plan: ExportPlan) -> Iterator[str]:
        through, notes = plan.through, plan.notes
        for note in notes.get(0, ()):
            yield export_checkpoint_line(note) + "\n"
        for start in range(0, through, EXPORT_CHUNK):
            with sessions() as db:
                rows = repository.entry_rows(db, start, min(start + EXPORT_CHUNK, through))
            for expected, row in enumerate(rows, start):
                if row[0] != expected:
                    raise self.integrity.report(f"entry {expected} is missing")
                yield export_entry_line(entry_from_row(row)) + "\n"
                for note in notes.get(expected + 1, ()):
                    yield export_checkpoint_line(note) + "\n"
            if len(rows) != min(EXPORT_CHUNK, through - start):
                raise self.integrity.report(f"entry {start + len(rows)} is missing")


def _moved(frontier: CompactRange, state: FrontierRow) -> dict[str, Any]:
    """The frontier row after an append (checkpoint fields as they were)."""
    return {
        "tree_size": frontier.size,
        "hashes": b"".join(frontier.to_hashes()),
        "checkpoint_size": state.checkpoint_size,
        "checkpoint_at": state.checkpoint_at,
    }


# -- reading entries (residents' pages, departments, auditors) ------------------------------


def list_disclosures(
    db: Session,
    resident_id: str,
    *,
    department: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[DisclosureView]:
    """A resident's own entries, newest first (``since`` inclusive, ``until`` exclusive)."""
    filters = EntryFilter(resident_id=resident_id, department=department, since=since, until=until)
    return query_disclosures(db, filters, limit=limit, before=before)


def query_disclosures(
    db: Session, filters: EntryFilter, *, limit: int = 100, before: int | None = None
) -> list[DisclosureView]:
    """Newest first: the first page (no ``before``) starts with the entries still waiting
    for integration (pending, no index), then the integrated ones by descending index."""
    views: list[DisclosureView] = []
    if before is None:
        views = [DisclosureView.pending(row) for row in repository.find_queued(db, filters, limit=limit)]
    rows = (
        repository.find_entries(db, filters, limit=limit - len(views), before=before)
        if len(views) < limit
        else []
    )
    integrated = [DisclosureView.of(row) for row in rows]
    if views and integrated:
        # Integrated between the two reads (PostgreSQL reads each statement's own snapshot):
        # shown once, integrated.
        seen = {view.entry_id for view in integrated}
        views = [view for view in views if view.entry_id not in seen]
    return views + integrated


def next_before(db: Session, views: Sequence[DisclosureView]) -> int | None:
    """The ``before`` of the page after ``views``: the last one's index, or the tree's size
    when the page held pending entries only (the next page starts at the integrated ones;
    None if there are none). Pending entries past a full first page are not paged to: they
    show once integrated, normally within a second."""
    last = views[-1].index
    if last is not None:
        return last
    return repository.read_frontier(db).tree_size or None


def pending_disclosure(db: Session, entry_id: str) -> DisclosureView | None:
    row = repository.queued_by_id(db, entry_id)
    return DisclosureView.pending(row) if row else None


def disclosure_by_id(db: Session, entry_id: str) -> DisclosureView | None:
    row = repository.entry_by_id(db, entry_id)
    return DisclosureView.of(row) if row else None


def disclosure_at(db: Session, index: int) -> DisclosureView | None:
    row = repository.entry_at(db, index)
    return DisclosureView.of(row) if row else None


def record_audit_access(
    db: Session,
    *,
    subject: str,
    client_id: str | None,
    action: str,
    parameters: dict[str, Any],
    result_count: int | None,
    status: int,
    request_id: str | None,
    now: datetime,
) -> None:
    repository.add_access(
        db,
        AuditAccess(
            at=now,
            subject=subject,
            client_id=client_id,
            action=action,
            parameters=parameters,
            result_count=result_count,
            status=status,
            request_id=request_id,
        ),
    )


def audit_accesses(db: Session, *, limit: int = 100, before: int | None = None) -> list[AuditAccess]:
    return list(repository.access_log(db, limit=limit, before=before))
