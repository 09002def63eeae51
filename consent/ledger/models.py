"""The disclosure ledger's tables.

- ``consent_ledger_entries``: one row per disclosure, in log order; ``leaf_hash`` is the
  RFC 9162 leaf (level 0) of the Merkle tree.
- ``consent_ledger_nodes``: one row per completed perfect subtree above the leaves
  (level >= 1). Completed subtrees never change, so any proof reads O(log n) rows.
- ``consent_ledger_frontier``: exactly one row, the current size and its compact range
  (the right-hand frontier). Appends lock it, which is what serialises writers.
- ``consent_ledger_queue``: disclosures accepted but not yet integrated into the tree. A
  release of claims only inserts here (no lock); the sequencer moves rows into
  ``consent_ledger_entries`` in batches (:mod:`consent.ledger.sequencer`).
- ``consent_ledger_sequencer``: exactly one row, the sequencer's lease: which process
  integrates, and until when its claim holds unless renewed.
- ``consent_ledger_checkpoints``: signed tree heads (C2SP signed notes).
- ``consent_ledger_signing_keys``: the Ed25519 checkpoint key, sealed under the master secret.
- ``consent_ledger_access_log``: every auditor query.
- ``consent_ledger_entry_texts``: what a person is shown for an entry, in English and
  Chinese (purpose, legal basis, field labels), when the recorder knew more than the entry's
  own words. Beside the entry, never hashed: the entry, its proofs and the offline verifier
  are unchanged, and these texts are presentation only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import Base

FRONTIER_ROW_ID = 1
SEQUENCER_ROW_ID = 1
# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-numbered rowid.
_SEQUENCE_NUMBER = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    __tablename__ = "consent_ledger_entries"
    __table_args__ = (
        Index("ix_consent_ledger_entries_resident", "resident_id", "index"),
        Index("ix_consent_ledger_entries_department", "recipient_department", "index"),
        Index("ix_consent_ledger_entries_recorded_at", "recorded_at"),
    )

    index: Mapped[int] = mapped_column("index", BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime]
    resident_id: Mapped[str] = mapped_column(String(64))
    recipient_client_id: Mapped[str] = mapped_column(String(64))
    recipient_department: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(String(16))
    grant_id: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(128))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class MerkleNode(Base):
    __tablename__ = "consent_ledger_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("index", BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerFrontier(Base):
    __tablename__ = "consent_ledger_frontier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    # The compact range's hashes concatenated, largest subtree first (32 bytes each).
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)
    checkpoint_at: Mapped[datetime | None]


class QueuedDisclosure(Base):
    """An accepted disclosure awaiting its index: the entry's fields but ``index`` and
    ``leaf_hash``, which the sequencer assigns when it integrates the row (and deletes it
    here, in the same transaction)."""

    __tablename__ = "consent_ledger_queue"
    __table_args__ = (Index("ix_consent_ledger_queue_resident", "resident_id"),)

    seq: Mapped[int] = mapped_column(_SEQUENCE_NUMBER, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    resident_id: Mapped[str] = mapped_column(String(64))
    recipient_client_id: Mapped[str] = mapped_column(String(64))
    recipient_department: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(String(16))
    grant_id: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(128))


class EntryTexts(Base):
    """Display texts of one entry (queued or integrated), by ``entry_id``: ``texts`` is
    ``{"purpose": {"en": .., "zh-HK": ..}, "legal_basis": {..}, "fields": {name: {"en": .., "zh-HK": ..}}}``,
    each part optional (consent.ledger.texts)."""

    __tablename__ = "consent_ledger_entry_texts"

    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)


class SequencerLease(Base):
    __tablename__ = "consent_ledger_sequencer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]


class LedgerCheckpoint(Base):
    __tablename__ = "consent_ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)


class LedgerSigningKey(Base):
    __tablename__ = "consent_ledger_signing_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin: Mapped[str] = mapped_column(String(255))
    key_name: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class AuditAccess(Base):
    __tablename__ = "consent_ledger_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    subject: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    result_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(SmallInteger)  # the HTTP status answered
    request_id: Mapped[str | None] = mapped_column(String(128))


# What `egate db downgrade` refuses to drop without --drop-ledger: the log, its proofs and
# the sealed key its checkpoints are signed with cannot be rebuilt once gone.
LEDGER_TABLES = tuple(
    model.__tablename__
    for model in (
        LedgerEntry,
        MerkleNode,
        LedgerFrontier,
        QueuedDisclosure,
        LedgerCheckpoint,
        LedgerSigningKey,
        AuditAccess,
    )
)
