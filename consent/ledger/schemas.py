"""Request and response shapes of the ledger API. Hashes travel as standard base64,
like the root hash in a checkpoint note; times as RFC 3339 UTC strings ending in Z."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, Field

from consent.ledger.entry import rfc3339_utc
from consent.ledger.models import AuditAccess
from consent.ledger.service import (
    ConsistencyProof,
    DisclosureView,
    InclusionProof,
    SignedCheckpoint,
    VerifierKeyInfo,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class DepartmentEntryOut(BaseModel):
    """An entry as its recipient department sees it: without the resident's internal id,
    which would let departments join their records (they know residents by pairwise sub)."""

    index: int | None = Field(description="position in the log; null while the entry awaits integration")
    integrated: bool = Field(description="false while the entry awaits its place in the log (no proof yet)")
    entry_id: str
    recorded_at: str = Field(description="RFC 3339 UTC, exactly as hashed")
    recipient_client_id: str
    recipient_department: str
    channel: str
    fields: list[str]
    purpose: str
    basis: str = Field(description="consent, legal or sign-in")
    grant_id: str | None
    legal_basis: str | None
    request_id: str
    leaf_hash: str | None = Field(
        description="RFC 9162 leaf hash of the entry, base64; null until integrated"
    )

    @classmethod
    def of(cls, view: DisclosureView) -> Any:
        entry = view.entry()
        if "resident_id" not in cls.model_fields:
            entry.pop("resident_id")
        leaf = b64(view.leaf_hash) if view.leaf_hash is not None else None
        return cls(**entry, integrated=view.integrated, leaf_hash=leaf)


class EntryOut(DepartmentEntryOut):
    resident_id: str


class EntryPage(BaseModel):
    entries: list[EntryOut]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page")


class DepartmentEntryPage(BaseModel):
    entries: list[DepartmentEntryOut]
    next_before: int | None


class ResidentExport(BaseModel):
    resident_id: str
    exported_at: str
    entries: list[EntryOut]


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: int
    signed_at: str
    key_id: str
    note: str = Field(description="the signed checkpoint (c2sp.org/tlog-checkpoint, signed-note)")

    @classmethod
    def of(cls, checkpoint: SignedCheckpoint) -> CheckpointOut:
        return cls(
            tree_size=checkpoint.tree_size,
            root_hash=b64(checkpoint.root_hash),
            timestamp=checkpoint.timestamp,
            signed_at=rfc3339_utc(checkpoint.signed_at),
            key_id=checkpoint.key_id,
            note=checkpoint.note,
        )


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    origin: str
    key_name: str
    key_id: str
    vkey: str = Field(description="signed-note verifier key: <name>+<hex key id>+<base64(0x01||key)>")
    public_key: str = Field(description="raw Ed25519 public key, base64")

    @classmethod
    def of(cls, key: VerifierKeyInfo) -> PublicKeyOut:
        return cls(
            origin=key.origin,
            key_name=key.key_name,
            key_id=key.key_id,
            vkey=key.vkey,
            public_key=b64(key.public_key),
        )


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str] = Field(description="RFC 9162 §2.1.3.1 audit path, leaf-level sibling first")
    checkpoint: CheckpointOut | None = Field(description="a signed checkpoint at tree_size, if any")

    @classmethod
    def of(cls, proof: InclusionProof, checkpoint: SignedCheckpoint | None) -> InclusionProofOut:
        return cls(
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=b64(proof.leaf_hash),
            root_hash=b64(proof.root_hash),
            proof=[b64(h) for h in proof.path],
            checkpoint=CheckpointOut.of(checkpoint) if checkpoint else None,
        )


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str] = Field(description="RFC 9162 §2.1.4.1 consistency proof")

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            old_size=proof.old_size,
            new_size=proof.new_size,
            old_root=b64(proof.old_root),
            new_root=b64(proof.new_root),
            proof=[b64(h) for h in proof.path],
        )


class AccessOut(BaseModel):
    id: int
    at: str
    subject: str
    client_id: str | None
    action: str
    parameters: dict[str, Any]
    result_count: int | None
    status: int
    request_id: str | None

    @classmethod
    def of(cls, row: AuditAccess) -> AccessOut:
        return cls(
            id=row.id,
            at=rfc3339_utc(row.at),
            subject=row.subject,
            client_id=row.client_id,
            action=row.action,
            parameters=row.parameters,
            result_count=row.result_count,
            status=row.status,
            request_id=row.request_id,
        )


class AccessPage(BaseModel):
    accesses: list[AccessOut]
    next_before: int | None
