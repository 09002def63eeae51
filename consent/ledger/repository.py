"""Every query of the disclosure ledger. Appends use Core statements: they run once per
release of claims, so they avoid the ORM's unit-of-work overhead."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    SmallInteger,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from consent.ledger.entry import rfc3339_utc
from consent.ledger.models import (
    FRONTIER_ROW_ID,
    SEQUENCER_ROW_ID,
    AuditAccess,
    EntryTexts,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerFrontier,
    LedgerSigningKey,
    MerkleNode,
    QueuedDisclosure,
    SequencerLease,
)
from kit.db import table_of
from kit.prepared import PreparedWrite

_entries = table_of(LedgerEntry)
_nodes = table_of(MerkleNode)
_frontier = table_of(LedgerFrontier)
_checkpoints = table_of(LedgerCheckpoint)
_queue = table_of(QueuedDisclosure)
_lease = table_of(SequencerLease)

_FRONTIER_COLUMNS = (
    _frontier.c.tree_size,
    _frontier.c.hashes,
    _frontier.c.checkpoint_size,
    _frontier.c.checkpoint_at,
)
_READ_FRONTIER = select(*_FRONTIER_COLUMNS).where(_frontier.c.id == FRONTIER_ROW_ID)
_UPDATE_FRONTIER = update(_frontier).where(_frontier.c.id == FRONTIER_ROW_ID)

# Export reads rows in index order; columns by position, in canonical entry order.
EXPORT_COLUMNS = (
    _entries.c.index,
    _entries.c.entry_id,
    _entries.c.recorded_at,
    _entries.c.resident_id,
    _entries.c.recipient_client_id,
    _entries.c.recipient_department,
    _entries.c.channel,
    _entries.c.fields,
    _entries.c.purpose,
    _entries.c.basis,
    _entries.c.grant_id,
    _entries.c.legal_basis,
    _entries.c.request_id,
)
# The same, then the stored leaf hash: what the integrity check re-hashes and compares.
LEAF_COLUMNS = (*EXPORT_COLUMNS, _entries.c.leaf_hash)
# A queued disclosure is an entry without its index (nor its leaf): the sequencer adds both.
QUEUE_COLUMNS = tuple(_queue.c[column.name] for column in EXPORT_COLUMNS[1:])


class LedgerStateError(RuntimeError):
    """The ledger's tables are not in the state appends left them in."""


@dataclass(frozen=True)
class FrontierRow:
    tree_size: int
    hashes: bytes
    checkpoint_size: int
    checkpoint_at: datetime | None


@dataclass(frozen=True)
class Claimed:
    """A queued disclosure taken for integration: ``entry`` is the entry as hashed but its
    ``index``; ``stored`` its column values as the database gave them, written back as is."""

    seq: int
    entry: dict[str, Any]
    recorded_at: datetime
    stored: tuple[Any, ...]


@dataclass(frozen=True)
class EntryFilter:
    resident_id: str | None = None
    department: str | None = None
    client_id: str | None = None
    channel: str | None = None
    field: str | None = None
    basis: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _frontier_row(row: Any) -> FrontierRow:
    if row is None:
        raise LedgerStateError("the ledger frontier row is missing: run `egate db upgrade`")
    return FrontierRow(row[0], bytes(row[1]), row[2], row[3])


def lock_frontier(db: Session) -> FrontierRow:
    """Read the frontier and hold it until the transaction ends: the append lock."""
    with appending(db) as append:
        return append.lock()


def read_frontier(db: Session) -> FrontierRow:
    return _frontier_row(db.connection().execute(_READ_FRONTIER).first())


def save_frontier(db: Session, tree_size: int, hashes: bytes, **checkpoint: Any) -> None:
    db.connection().execute(_UPDATE_FRONTIER, {"tree_size": tree_size, "hashes": hashes, **checkpoint})


@dataclass(frozen=True)
class Appending:
    """One append on the session's own DBAPI connection: lock the frontier, then save the
    entries, their completed nodes and the moved frontier (``tree_size``, ``hashes``,
    ``checkpoint_size``, ``checkpoint_at``)."""

    path: _AppendPath
    cursor: Any

    def lock(self) -> FrontierRow:
        return self.path.lock(self.cursor)

    def read(self) -> FrontierRow:
        """The frontier as :meth:`lock` reads it, without the lock (a transaction that only
        reads)."""
        return self.path.read(self.cursor)

    def save(
        self,
        entries: Sequence[Mapping[str, Any]],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> None:
        self.path.save(self.cursor, entries, nodes, frontier)

    def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert accepted disclosures into the sequencing queue: no lock is taken."""
        self.path.enqueue(self.cursor, rows)

    def claim(self, limit: int) -> list[Claimed]:
        """The oldest ``limit`` queued disclosures, in queue order. They leave the queue in
        :meth:`save_claimed`, which refuses them if any left it meanwhile."""
        return self.path.claim(self.cursor, limit)

    def save_claimed(
        self,
        claimed: Sequence[Claimed],
        leaves: Sequence[tuple[int, bytes]],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> None:
        """Store claimed disclosures as the entries at the given ``(index, leaf_hash)``,
        with their completed nodes and the moved frontier; they leave the queue for good."""
        self.path.save_claimed(self.cursor, claimed, leaves, nodes, frontier)

    @property
    def optimistic(self) -> bool:
        """Whether :meth:`save_if_unchanged` is available (PostgreSQL)."""
        return self.path.postgresql

    def save_if_unchanged(
        self,
        expected: FrontierRow,
        entry: Mapping[str, Any],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> bool:
        """Save one entry computed from ``expected`` without reading the frontier first,
        provided the frontier row still is exactly ``expected``; False (and nothing written)
        if another writer moved it. The row lock is taken by this very statement."""
        return self.path.save_if_unchanged(self.cursor, expected, entry, nodes, frontier)


@contextmanager
def appending(db: Session) -> Iterator[Appending]:
    connection = db.connection()
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        yield Appending(_append_path(dialect), cursor)
    except dialect.loaded_dbapi.Error as error:
        # Callers see SQLAlchemy's exceptions (IntegrityError, OperationalError...), as from
        # any other statement, and a lost connection is not handed back to the pool.
        invalidated = dialect.is_disconnect(error, connection.connection, cursor)
        if invalidated:
            connection.invalidate(error)
        raise DBAPIError.instance(
            None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=invalidated, dialect=dialect
        ) from error
    finally:
        cursor.close()


class _AppendPath:
    """The two steps of every append, straight on the DBAPI cursor of the session's own
    connection (so inside the caller's transaction).

    Why not SQLAlchemy here: an append is paid for by every release of claims and runs
    while holding the one lock all writers queue on; SQLAlchemy's per-statement overhead
    was most of its cost. Values still go through the columns' own SQLAlchemy type
    processors, so rows read back through the models exactly as if the ORM had written them.
    """

    ENTRY_COLUMNS = tuple(c.name for c in _entries.columns)
    QUEUE_COLUMNS = tuple(column.name for column in QUEUE_COLUMNS)

    def __init__(self, dialect: Dialect) -> None:
        self.postgresql = dialect.name == "postgresql"
        self.placeholder = "%({})s" if dialect.paramstyle == "pyformat" else ":{}"
        self.bind = {
            column.name: processor
            for column in (*_entries.columns, *_frontier.columns)
            if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self.read_checkpoint_at = _frontier.c.checkpoint_at.type.dialect_impl(dialect).result_processor(
            dialect, None
        )
        # The SQL below is built once from the tables' own column names; no value is ever
        # formatted into it (hence the S608 waivers).
        p = self.placeholder.format
        lock = "SELECT tree_size, hashes, checkpoint_size, checkpoint_at FROM consent_ledger_frontier"
        # FOR UPDATE on PostgreSQL; SQLite has no row locks, but every SQLite transaction here
        # starts with BEGIN IMMEDIATE (kit.db), which serialises writers just the same.
        self.read_sql = lock + " WHERE id = 1"
        self.lock_sql = self.read_sql + (" FOR UPDATE" if self.postgresql else "")
        columns = ", ".join(f'"{name}"' for name in self.ENTRY_COLUMNS)
        queued = ", ".join(f'"{name}"' for name in self.QUEUE_COLUMNS)
        queued_values = ", ".join(p(name) for name in self.QUEUE_COLUMNS)
        self.queue_sql = f"INSERT INTO consent_ledger_queue ({queued}) VALUES ({queued_values})"  # noqa: S608
        # Claimed rows come back raw (no SQLAlchemy result processing): the JSON as text.
        returned = ", ".join(
            f'"{name}"::text' if self.postgresql and name == "fields" else f'"{name}"'
            for name in self.QUEUE_COLUMNS
        )
        # Read without a lock (the sequencer reads them in a transaction that only reads);
        # they are moved below, by sequence number, under the frontier lock, which makes the
        # mover the only one: every claimed row must still be queued then (counted), and
        # they all stay queued if the transaction fails.
        self.claim_sql = f"SELECT seq, {returned} FROM consent_ledger_queue ORDER BY seq LIMIT {p('limit')}"  # noqa: S608
        copied = ", ".join(f'"{name}"' for name in self.QUEUE_COLUMNS)
        if not self.postgresql:
            self.copy_claimed_sql = (
                f'INSERT INTO consent_ledger_entries ("index", {copied}, leaf_hash)'  # noqa: S608
                f" VALUES (?, {', '.join('?' for _ in self.QUEUE_COLUMNS)}, ?)"
            )
            self.delete_claimed_sql = f"DELETE FROM consent_ledger_queue WHERE seq <= {p('seq')}"  # noqa: S608
        moved = (
            f"tree_size = {p('tree_size')}, hashes = {p('hashes')},"
            f" checkpoint_size = {p('checkpoint_size')}, checkpoint_at = {p('checkpoint_at')}"
        )
        frontier = f"UPDATE consent_ledger_frontier SET {moved} WHERE id = 1"  # noqa: S608
        node_columns = 'consent_ledger_nodes (level, "index", hash)'
        if self.postgresql:
            # One round trip for any number of entries and nodes: arrays unnested into rows.
            arrays = ", ".join(
                f"{p(column.name)}::{column.type.compile(dialect=dialect)}[]" for column in _entries.columns
            )
            node_arrays = (
                f"{p('node_level')}::smallint[], {p('node_index')}::bigint[], {p('node_hash')}::bytea[]"
            )
            self.save_sql = (
                f"WITH e AS (INSERT INTO consent_ledger_entries ({columns}) SELECT * FROM unnest({arrays})),"  # noqa: S608
                f" n AS (INSERT INTO {node_columns} SELECT * FROM unnest({node_arrays})) {frontier}"
            )
            # Claimed rows move inside the server: out of the queue into the entries, with the
            # indices and leaf hashes given (the hashes as one string of 32-byte hashes, nodes'
            # too: adapting arrays of strings and bytes cost more than the statement). The
            # frontier moves only if every claimed row moved.
            hashed = "substring({} FROM ((o - 1) * 32 + 1)::int FOR 32)"
            self.move_claimed_sql = (
                f"WITH q AS (DELETE FROM consent_ledger_queue WHERE seq = ANY({p('seq')}::bigint[])"  # noqa: S608
                f" RETURNING *),"
                f" v AS (SELECT s, {p('first')}::bigint + o - 1 AS i,"
                f" {hashed.format(p('leaves') + '::bytea')} AS h"
                f" FROM unnest({p('seq')}::bigint[]) WITH ORDINALITY AS u(s, o)),"
                f' e AS (INSERT INTO consent_ledger_entries ("index", {copied}, leaf_hash)'
                f" SELECT v.i, {', '.join(f'q.{name}' for name in copied.split(', '))}, v.h"
                " FROM q JOIN v ON q.seq = v.s RETURNING 1),"
                f" n AS (INSERT INTO {node_columns}"
                f" SELECT l, i, {hashed.format(p('node_hashes') + '::bytea')}"
                f" FROM unnest({p('node_level')}::smallint[], {p('node_index')}::bigint[])"
                " WITH ORDINALITY AS w(l, i, o))"
                f" {frontier} AND (SELECT count(*) FROM e) = {p('count')}"
            )
            # A single entry (every release of claims) skips the arrays, whose adaptation costs
            # more than the statement: plain VALUES, one statement text per number of nodes.
            values = ", ".join(
                f"{p(column.name)}::{column.type.compile(dialect=dialect)}" for column in _entries.columns
            )
            self.single_entry_sql = (
                f"WITH e AS (INSERT INTO consent_ledger_entries ({columns}) VALUES ({values}))"  # noqa: S608
            )
            self.node_values_sql = f", n AS (INSERT INTO {node_columns} VALUES {{}})"  # noqa: S608
            self.frontier_sql = frontier
            self._single_sql: dict[int, str] = {}
            # Compare-and-set: the UPDATE locks the row and moves it only if it is unchanged
            # (after waiting for a concurrent writer, PostgreSQL re-checks the condition on the
            # row that writer committed); the inserts happen only if it did.
            unchanged = (
                f"id = 1 AND tree_size = {p('was_tree_size')} AND hashes = {p('was_hashes')}"
                f" AND checkpoint_size = {p('was_checkpoint_size')}"
                f" AND checkpoint_at IS NOT DISTINCT FROM {p('was_checkpoint_at')}::timestamp"
            )
            self.cas_head_sql = (
                f"WITH f AS (UPDATE consent_ledger_frontier SET {moved} WHERE {unchanged} RETURNING id),"  # noqa: S608
                f" e AS (INSERT INTO consent_ledger_entries ({columns}) SELECT {values}"
                " WHERE EXISTS (SELECT FROM f))"
            )
            self.cas_nodes_sql = (
                f", n AS (INSERT INTO {node_columns} SELECT * FROM (VALUES {{}}) AS v"  # noqa: S608
                " WHERE EXISTS (SELECT FROM f))"
            )
            self._cas_sql: dict[int, str] = {}
        else:
            values = ", ".join(p(name) for name in self.ENTRY_COLUMNS)
            self.entries_sql = f"INSERT INTO consent_ledger_entries ({columns}) VALUES ({values})"  # noqa: S608
            self.nodes_sql = f"INSERT INTO {node_columns} VALUES ({p('level')}, {p('index')}, {p('hash')})"  # noqa: S608
            self.frontier_sql = frontier

    def _bound(self, row: Mapping[str, Any]) -> dict[str, Any]:
        bind = self.bind
        return {k: (bind[k](v) if k in bind and v is not None else v) for k, v in row.items()}

    def lock(self, cursor: Any) -> FrontierRow:
        return self._frontier(cursor, self.lock_sql)

    def read(self, cursor: Any) -> FrontierRow:
        return self._frontier(cursor, self.read_sql)

    def _frontier(self, cursor: Any, sql: str) -> FrontierRow:
        cursor.execute(sql)
        row = cursor.fetchone()
        if row is None:
            return _frontier_row(None)
        checkpoint_at = row[3]
        if self.read_checkpoint_at is not None:
            checkpoint_at = self.read_checkpoint_at(checkpoint_at)
        return FrontierRow(row[0], bytes(row[1]), row[2], checkpoint_at)

    def enqueue(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        if len(rows) == 1:
            cursor.execute(self.queue_sql, self._bound(rows[0]))
        else:
            cursor.executemany(self.queue_sql, [self._bound(row) for row in rows])

    def claim(self, cursor: Any, limit: int) -> list[Claimed]:
        cursor.execute(self.claim_sql, {"limit": limit})
        rows = sorted(cursor.fetchall(), key=lambda row: row[0])
        names = self.QUEUE_COLUMNS
        at, fields = names.index("recorded_at") + 1, names.index("fields") + 1
        claimed = []
        for row in rows:
            entry = dict(zip(names, row[1:], strict=True))
            stored = row[at]
            if isinstance(stored, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", UTC
                moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
                entry["recorded_at"] = (
                    f"{stored[:10]}T{stored[11:]}Z" if len(stored) == 26 else rfc3339_utc(moment)
                )
            else:
                moment = stored.replace(tzinfo=UTC)
                entry["recorded_at"] = rfc3339_utc(moment)
            entry["fields"] = json.loads(row[fields])
            claimed.append(Claimed(row[0], entry, moment, tuple(row[1:])))
        return claimed

    def save_claimed(
        self,
        cursor: Any,
        claimed: Sequence[Claimed],
        leaves: Sequence[tuple[int, bytes]],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> None:
        if self.postgresql:
            parameters: dict[str, Any] = {
                "seq": [row.seq for row in claimed],
                "first": leaves[0][0],
                "leaves": b"".join(digest for _, digest in leaves),
                "count": len(claimed),
                "node_level": [n["level"] for n in nodes],
                "node_index": [n["index"] for n in nodes],
                "node_hashes": b"".join(n["hash"] for n in nodes),
            }
            parameters.update(self._bound(frontier))
            cursor.execute(self.move_claimed_sql, parameters)
            if cursor.rowcount != 1:
                raise LedgerStateError("claimed entries left the queue while the frontier was locked")
            return
        # The stored values go back as SQLite gave them (the JSON and the time as text).
        cursor.executemany(
            self.copy_claimed_sql,
            [(index, *row.stored, digest) for row, (index, digest) in zip(claimed, leaves, strict=True)],
        )
        if nodes:
            cursor.executemany(self.nodes_sql, nodes)
        cursor.execute(self.frontier_sql, self._bound(frontier))
        cursor.execute(self.delete_claimed_sql, {"seq": claimed[-1].seq})
        if cursor.rowcount != len(claimed):
            raise LedgerStateError("claimed entries left the queue before they were stored")

    def save(
        self,
        cursor: Any,
        entries: Sequence[Mapping[str, Any]],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> None:
        if self.postgresql and len(entries) == 1:
            parameters = self._bound(entries[0])
            self._add_nodes(parameters, nodes)
            parameters.update(self._bound(frontier))
            cursor.execute(self._single_entry_sql(len(nodes)), parameters)
        elif self.postgresql:
            bound = [self._bound(entry) for entry in entries]
            parameters = {name: [row[name] for row in bound] for name in self.ENTRY_COLUMNS}
            parameters["node_level"] = [n["level"] for n in nodes]
            parameters["node_index"] = [n["index"] for n in nodes]
            parameters["node_hash"] = [n["hash"] for n in nodes]
            parameters.update(self._bound(frontier))
            cursor.execute(self.save_sql, parameters)
        else:
            cursor.executemany(self.entries_sql, [self._bound(entry) for entry in entries])
            if nodes:
                cursor.executemany(self.nodes_sql, nodes)
            cursor.execute(self.frontier_sql, self._bound(frontier))

    def save_if_unchanged(
        self,
        cursor: Any,
        expected: FrontierRow,
        entry: Mapping[str, Any],
        nodes: Sequence[Mapping[str, Any]],
        frontier: Mapping[str, Any],
    ) -> bool:
        parameters = self._bound(entry)
        self._add_nodes(parameters, nodes)
        parameters.update(self._bound(frontier))
        was = {
            "tree_size": expected.tree_size,
            "hashes": expected.hashes,
            "checkpoint_size": expected.checkpoint_size,
            "checkpoint_at": expected.checkpoint_at,
        }
        parameters.update({f"was_{k}": v for k, v in self._bound(was).items()})
        cursor.execute(self._cas_statement(len(nodes)), parameters)
        row = cursor.fetchone()
        return bool(row and row[0])

    @staticmethod
    def _add_nodes(parameters: dict[str, Any], nodes: Sequence[Mapping[str, Any]]) -> None:
        for i, node in enumerate(nodes):
            parameters[f"l{i}"], parameters[f"i{i}"], parameters[f"h{i}"] = (
                node["level"],
                node["index"],
                node["hash"],
            )

    def _node_rows_sql(self, node_count: int) -> str:
        p = self.placeholder.format
        return ", ".join(
            f"({p(f'l{i}')}::smallint, {p(f'i{i}')}::bigint, {p(f'h{i}')}::bytea)" for i in range(node_count)
        )

    def _cas_statement(self, node_count: int) -> str:
        sql = self._cas_sql.get(node_count)
        if sql is None:
            nodes = self.cas_nodes_sql.format(self._node_rows_sql(node_count)) if node_count else ""
            sql = f"{self.cas_head_sql}{nodes} SELECT count(*) FROM f"  # noqa: S608
            self._cas_sql[node_count] = sql
        return sql

    def _single_entry_sql(self, node_count: int) -> str:
        sql = self._single_sql.get(node_count)
        if sql is None:
            nodes = self.node_values_sql.format(self._node_rows_sql(node_count)) if node_count else ""
            sql = self._single_sql[node_count] = f"{self.single_entry_sql}{nodes} {self.frontier_sql}"
        return sql


_append_paths: dict[str, _AppendPath] = {}


def _append_path(dialect: Dialect) -> _AppendPath:
    path = _append_paths.get(dialect.name)
    if path is None:
        path = _append_paths[dialect.name] = _AppendPath(dialect)
    return path


def nodes(db: Session, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Hashes of the given completed subtrees, in one query; level 0 is the entries' leaves."""
    by_level: dict[int, set[int]] = {}
    for level, index in wanted:
        by_level.setdefault(level, set()).add(index)
    if not by_level:
        return {}
    parts = []
    leaves = by_level.pop(0, None)
    if leaves:
        parts.append(
            select(literal(0, SmallInteger).label("level"), _entries.c.index, _entries.c.leaf_hash).where(
                _entries.c.index.in_(sorted(leaves))
            )
        )
    if by_level:
        # One primary-key lookup per node: SQLite scans the table for a row-value IN list,
        # but searches the key for each "level = ? AND index IN (...)" of an OR.
        condition = or_(
            *(and_(_nodes.c.level == lvl, _nodes.c.index.in_(sorted(ix))) for lvl, ix in by_level.items())
        )
        parts.append(select(_nodes.c.level, _nodes.c.index, _nodes.c.hash).where(condition))
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    return {(level, index): bytes(digest) for level, index, digest in db.connection().execute(statement)}


def _filtered(statement: Any, filters: EntryFilter, model: Any = LedgerEntry) -> Any:
    """``model``: LedgerEntry, or QueuedDisclosure (the same columns but the index)."""
    if filters.resident_id is not None:
        statement = statement.where(model.resident_id == filters.resident_id)
    if filters.department is not None:
        statement = statement.where(model.recipient_department == filters.department)
    if filters.client_id is not None:
        statement = statement.where(model.recipient_client_id == filters.client_id)
    if filters.channel is not None:
        statement = statement.where(model.channel == filters.channel)
    if filters.basis is not None:
        statement = statement.where(model.basis == filters.basis)
    if filters.field is not None:
        # Field names are stored as a JSON array; the quoted name only matches a whole element.
        named = cast(model.fields, Text).contains(json.dumps(filters.field), autoescape=True)
        statement = statement.where(named)
    if filters.since is not None:
        statement = statement.where(model.recorded_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(model.recorded_at < filters.until)
    return statement


def find_entries(
    db: Session, filters: EntryFilter, *, limit: int, before: int | None = None
) -> Sequence[LedgerEntry]:
    """Newest first; ``before`` (an index) pages backwards."""
    statement = _filtered(select(LedgerEntry), filters)
    if before is not None:
        statement = statement.where(LedgerEntry.index < before)
    return db.scalars(statement.order_by(LedgerEntry.index.desc()).limit(limit)).all()


def entry_at(db: Session, index: int) -> LedgerEntry | None:
    return db.get(LedgerEntry, index)


def entry_by_id(db: Session, entry_id: str) -> LedgerEntry | None:
    return db.scalars(select(LedgerEntry).where(LedgerEntry.entry_id == entry_id)).first()


# -- the sequencing queue ---------------------------------------------------------------------


def find_queued(db: Session, filters: EntryFilter, *, limit: int) -> Sequence[QueuedDisclosure]:
    """Accepted disclosures not yet integrated, newest first."""
    statement = _filtered(select(QueuedDisclosure), filters, QueuedDisclosure)
    return db.scalars(statement.order_by(QueuedDisclosure.seq.desc()).limit(limit)).all()


def queued_by_id(db: Session, entry_id: str) -> QueuedDisclosure | None:
    return db.scalars(select(QueuedDisclosure).where(QueuedDisclosure.entry_id == entry_id)).first()


def queue_head(db: Session) -> tuple[int, datetime | None]:
    """How many disclosures wait, and when the oldest of them was recorded."""
    count, oldest = db.execute(select(func.count(), func.min(_queue.c.recorded_at))).one()
    return int(count), oldest


def has_queued(db: Session) -> bool:
    return db.execute(select(_queue.c.seq).limit(1)).first() is not None


# -- the sequencer's lease ----------------------------------------------------------------------


# Compiled once (kit.prepared): built and compiled per call, this statement was most of what
# a batch of the sequencer cost beyond its entries (~0.4 ms of ~1.1 ms for a batch of one).
_TAKE_LEASE = PreparedWrite(
    update(_lease)
    .where(
        _lease.c.id == SEQUENCER_ROW_ID,
        or_(
            _lease.c.holder == bindparam("holding"),
            _lease.c.holder.is_(None),
            _lease.c.expires_at < bindparam("now"),
        ),
    )
    .values(holder=bindparam("taking"), expires_at=bindparam("until"))
)


def take_lease(db: Session, holder: str, now: datetime, until: datetime) -> bool:
    """Hold (or keep holding) the sequencer's lease until ``until``, unless another holder's
    has not expired by ``now``. The row stays locked until the transaction ends."""
    return _TAKE_LEASE.run(db, [{"holding": holder, "taking": holder, "now": now, "until": until}]) == 1


def release_lease(db: Session, holder: str) -> None:
    statement = (
        update(_lease)
        .where(_lease.c.id == SEQUENCER_ROW_ID, _lease.c.holder == holder)
        .values(holder=None, expires_at=None)
    )
    db.connection().execute(statement)


def read_lease(db: Session) -> tuple[str | None, datetime | None]:
    row = db.connection().execute(select(_lease.c.holder, _lease.c.expires_at)).first()
    if row is None:
        raise LedgerStateError("the ledger sequencer row is missing: run `egate db upgrade`")
    return row[0], row[1]


def entry_rows(db: Session, start: int, end: int) -> Sequence[Any]:
    """Rows of ``EXPORT_COLUMNS`` for indices ``start <= index < end``, in order."""
    statement = (
        select(*EXPORT_COLUMNS)
        .where(_entries.c.index >= start, _entries.c.index < end)
        .order_by(_entries.c.index)
    )
    return db.execute(statement).all()


def entry_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """The entry exactly as hashed (consent.ledger.entry) from a row of ``EXPORT_COLUMNS``."""
    (index, entry_id, recorded_at, resident_id, client_id, department, channel) = row[:7]
    fields, purpose, basis, grant_id, legal_basis, request_id = row[7:13]
    return {
        "index": index,
        "entry_id": entry_id,
        "recorded_at": rfc3339_utc(recorded_at),
        "resident_id": resident_id,
        "recipient_client_id": client_id,
        "recipient_department": department,
        "channel": channel,
        "fields": fields,
        "purpose": purpose,
        "basis": basis,
        "grant_id": grant_id,
        "legal_basis": legal_basis,
        "request_id": request_id,
    }


def leaf_rows(db: Session, start: int, end: int) -> Sequence[Any]:
    """Rows of ``LEAF_COLUMNS`` for indices ``start <= index < end``, in order."""
    statement = (
        select(*LEAF_COLUMNS)
        .where(_entries.c.index >= start, _entries.c.index < end)
        .order_by(_entries.c.index)
    )
    return db.execute(statement).all()


def count_entries_below(db: Session, size: int) -> int:
    statement = select(func.count()).select_from(_entries).where(_entries.c.index < size)
    return int(db.execute(statement).scalar_one())


def first_row_past(db: Session, tree_size: int) -> str | None:
    """Name the first entry or node stored beyond a tree of ``tree_size``, if any.

    Node ``(level, index)`` exists once leaf ``(index + 1) * 2**level - 1`` does, i.e. for
    ``index < tree_size >> level``; levels above the tree's height hold no node yet.
    """
    entry = db.execute(select(func.min(_entries.c.index)).where(_entries.c.index >= tree_size)).scalar()
    if entry is not None:
        return f"entry {entry}"
    height = tree_size.bit_length()
    # One primary-key probe per level, in key order so that the planner walks the key, not
    # one OR over all levels: PostgreSQL scanned the whole table for that (125 ms at 200,000
    # entries, growing with the log), and it runs before every signature.
    conditions = [_nodes.c.level > height] + [
        and_(_nodes.c.level == level, _nodes.c.index >= tree_size >> level) for level in range(1, height + 1)
    ]
    probes = [
        select(_nodes.c.level, _nodes.c.index)
        .where(c)
        .order_by(_nodes.c.level, _nodes.c.index)
        .limit(1)
        .subquery()
        for c in conditions
    ]
    node = db.execute(union_all(*(select(probe) for probe in probes)).limit(1)).first()
    return f"Merkle node at level {node[0]}, index {node[1]}" if node is not None else None


def checkpoints_between(db: Session, low: int, high: int) -> Sequence[LedgerCheckpoint]:
    """Checkpoints with ``low <= tree_size <= high``, in order of size."""
    statement = (
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.tree_size >= low, LedgerCheckpoint.tree_size <= high)
        .order_by(LedgerCheckpoint.tree_size, LedgerCheckpoint.id)
    )
    return db.scalars(statement).all()


def signing_key(db: Session, key_id: str) -> LedgerSigningKey | None:
    return db.get(LedgerSigningKey, key_id)


def add_checkpoint(db: Session, checkpoint: LedgerCheckpoint) -> None:
    db.add(checkpoint)
    db.flush()


def latest_checkpoint(db: Session, tree_size: int | None = None) -> LedgerCheckpoint | None:
    statement = select(LedgerCheckpoint)
    if tree_size is not None:
        statement = statement.where(LedgerCheckpoint.tree_size == tree_size)
    statement = statement.order_by(LedgerCheckpoint.tree_size.desc(), LedgerCheckpoint.id.desc())
    return db.scalars(statement.limit(1)).first()


def checkpoint_notes_up_to(db: Session, tree_size: int) -> list[tuple[int, str]]:
    statement = (
        select(_checkpoints.c.tree_size, _checkpoints.c.note)
        .where(_checkpoints.c.tree_size <= tree_size)
        .order_by(_checkpoints.c.tree_size, _checkpoints.c.id)
    )
    return [(size, note) for size, note in db.execute(statement)]


def active_signing_key(db: Session) -> LedgerSigningKey | None:
    statement = (
        select(LedgerSigningKey)
        .where(LedgerSigningKey.retired_at.is_(None))
        .order_by(LedgerSigningKey.created_at.desc())
        .limit(1)
    )
    return db.scalars(statement).first()


def add_signing_key(db: Session, key: LedgerSigningKey) -> None:
    db.add(key)
    db.flush()


def add_access(db: Session, access: AuditAccess) -> None:
    db.add(access)
    db.flush()


def access_log(db: Session, *, limit: int, before: int | None = None) -> Sequence[AuditAccess]:
    statement = select(AuditAccess)
    if before is not None:
        statement = statement.where(AuditAccess.id < before)
    return db.scalars(statement.order_by(AuditAccess.id.desc()).limit(limit)).all()


def add_entry_texts(db: Session, entry_id: str, texts: dict[str, Any]) -> None:
    db.add(EntryTexts(entry_id=entry_id, texts=texts))


def entry_texts(db: Session, entry_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not entry_ids:
        return {}
    statement = select(EntryTexts.entry_id, EntryTexts.texts).where(EntryTexts.entry_id.in_(entry_ids))
    return {entry_id: texts for entry_id, texts in db.execute(statement)}
