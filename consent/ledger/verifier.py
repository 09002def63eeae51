"""Offline verification of an exported disclosure ledger: the export and a public key suffice.

Export format: JSON lines (UTF-8, one object per line; blank lines are ignored).

* ``{"type": "entry", ...}`` — the entry's fields (see :mod:`consent.ledger.entry`) plus
  ``type``. Entries appear in index order from 0 with no gaps.
* ``{"type": "checkpoint", "note": "<signed checkpoint>"}`` — a signed note
  (see :mod:`consent.ledger.checkpoint`). A checkpoint of size n comes right after
  entry n - 1, i.e. where the log had exactly n entries (a checkpoint of size 0 comes
  before any entry). Several checkpoints may share a position.
* ``{"type": "error", "message": "..."}`` — the server found its ledger damaged after it
  had started sending the export: the export is incomplete, and verification fails there.

The verifier streams: it recomputes every leaf hash (RFC 9162 §2.1.1), keeps only the
frontier of perfect subtrees (O(log n) hashes), and at each checkpoint checks the
signature and that the signed root equals the root recomputed at that size. Every
checkpoint is thereby proven to commit to exactly the entries before it, so any two
of them are consistent (RFC 9162 §2.1.4: the older tree is a prefix of the newer one)
without a separate proof. The one other thing held is the set of entry IDs, to find
duplicates.

Why a checkpoint must sit at its own size, not anywhere later: recomputing the root
at an earlier size needs subtrees the frontier has already merged, which would cost
O(n) memory. Defended against: an entry deleted, inserted, reordered or altered in any
field, a checkpoint forged, moved, or signed by another key. Not detectable by any
signature: changes to entries after the last checkpoint — they are reported as not
covered.

An export is only checked against itself, so one whose history was cut back to an earlier
checkpoint (truncation), or rewritten after it and signed again (rollback, a fork), still
verifies. A checkpoint obtained elsewhere — published, or kept from an earlier audit —
closes that gap (``trusted_checkpoint``): the export must reach its size and have its root
there. That is RFC 9162 §2.1.4 consistency with the trusted tree, shown directly: the
verifier holds every entry, so it recomputes the root at the trusted size instead of
checking a proof of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    public_key_from_vkey,
    verify_signed_checkpoint,
)
from consent.ledger.entry import ENTRY_FIELDS, canonical_json, entry_problem
from consent.ledger.rfc9162 import CompactRange, leaf_hash


@dataclass(frozen=True)
class VerificationReport:
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_error: str | None = None
    error_line: int | None = None
    last_checkpoint: Checkpoint | None = None
    uncovered_entries: int = 0
    trusted_checkpoint: Checkpoint | None = None


class _Failed(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def export_entry_line(entry: Mapping[str, Any]) -> str:
    """One export line for an entry, without the newline."""
    return canonical_json({**entry, "type": "entry"})


def export_checkpoint_line(note: str) -> str:
    """One export line for a signed checkpoint, without the newline."""
    return canonical_json({"type": "checkpoint", "note": note})


def export_error_line(message: str) -> str:
    """The last line of an export the server could not finish, without the newline."""
    return canonical_json({"type": "error", "message": message})


def read_trusted_checkpoint(text: str) -> str:
    """The signed note in ``text``: the note itself, or a JSON object holding it as ``note``
    (an export's checkpoint line, or the answer of ``GET /consent/ledger/checkpoints/latest``)."""
    if text.lstrip().startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            raise CheckpointError("trusted checkpoint is neither a signed note nor JSON") from None
        note = record.get("note") if type(record) is dict else None
        if type(note) is not str:
            raise CheckpointError("trusted checkpoint JSON has no 'note' string")
        return note
    return text


def _resolve_key(
    key: str | VerifierKey | Ed25519PublicKey, key_name: str | None
) -> tuple[Ed25519PublicKey, str | None]:
    if isinstance(key, str):
        key = public_key_from_vkey(key)
    if isinstance(key, VerifierKey):
        if key_name is not None and key_name != key.key_name:
            raise ValueError(f"key name {key_name!r} differs from the vkey's {key.key_name!r}")
        return key.public_key, key.key_name
    if isinstance(key, Ed25519PublicKey):
        return key, key_name
    raise TypeError("expected a vkey string, a VerifierKey or an Ed25519PublicKey")


def verify_export(
    lines: Iterable[str],
    public_key_or_vkey: str | VerifierKey | Ed25519PublicKey,
    *,
    key_name: str | None = None,
    origin: str | None = None,
    allow_uncovered_tail: bool = False,
    trusted_checkpoint: str | None = None,
) -> VerificationReport:
    """Verify an export line by line and report the first problem, with its line number.

    ``origin`` pins the checkpoints' origin line; by default all must share the first
    one's. With a bare public key and no ``key_name``, any signature line whose key ID
    matches that key counts. ``allow_uncovered_tail`` accepts entries after the last
    checkpoint (still counted in ``uncovered_entries``).

    ``trusted_checkpoint`` is a signed note obtained elsewhere, signed by the same key
    (raises :class:`CheckpointError` if it is not): the export must reach its size with
    its root (else truncation or rollback is reported), and it covers the entries below it.
    """
    public_key, key_name = _resolve_key(public_key_or_vkey, key_name)
    trusted = None
    if trusted_checkpoint is not None:
        trusted = verify_signed_checkpoint(trusted_checkpoint, public_key, key_name)
        if origin is not None and trusted.origin != origin:
            raise CheckpointError(f"trusted checkpoint's origin {trusted.origin!r} is not {origin!r}")
        origin = trusted.origin
    run = _Run(public_key, key_name, origin, trusted)
    try:
        run.verify(lines)
        run.check_reached_trusted()
        uncovered = run.size - run.covered
        if uncovered and not allow_uncovered_tail:
            raise _Failed(
                run.first_uncovered_line,
                f"entries {run.covered}..{run.size - 1} are not covered by any checkpoint:"
                " a change to them cannot be detected",
            )
    except _Failed as failure:
        return VerificationReport(
            ok=False,
            entries_checked=run.size,
            checkpoints_checked=run.checkpoints,
            first_error=str(failure),
            error_line=failure.line,
            last_checkpoint=run.last_checkpoint,
            uncovered_entries=max(run.size - run.covered, 0),
            trusted_checkpoint=trusted,
        )
    return VerificationReport(
        ok=True,
        entries_checked=run.size,
        checkpoints_checked=run.checkpoints,
        last_checkpoint=run.last_checkpoint,
        uncovered_entries=uncovered,
        trusted_checkpoint=trusted,
    )


# Fast path, for speed only: an entry line exactly as export_entry_line writes it (keys
# sorted, no whitespace, strings without escapes) is matched by this pattern, and the
# text before ',"type":"entry"}' IS the entry's canonical JSON, so it is hashed without
# a JSON round trip. Any line it does not match, or whose values fail a check below, goes
# through json and entry_problem, which then accept the same entries with the same hash.
_TEXT = r'[^"\\\x00-\x1f]+'
_STRING = f'"({_TEXT})"'
_VALUE_PATTERNS = {
    "basis": r'"(consent|legal|sign-in)"',
    "channel": _STRING,
    "entry_id": _STRING,
    "fields": rf'\[("{_TEXT}"(?:,"{_TEXT}")*)\]',
    "grant_id": f"(?:null|{_STRING})",
    "index": r"(0|[1-9][0-9]{0,17})",
    "legal_basis": f"(?:null|{_STRING})",
    "purpose": _STRING,
    "recipient_client_id": _STRING,
    "recipient_department": _STRING,
    "recorded_at": r'"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z)"',
    "request_id": _STRING,
    "resident_id": _STRING,
}
assert _VALUE_PATTERNS.keys() == set(ENTRY_FIELDS)
_CANONICAL_ENTRY_LINE = re.compile(
    r"(\{"
    + ",".join(f'"{name}":{_VALUE_PATTERNS[name]}' for name in sorted(_VALUE_PATTERNS))
    + r'),"type":"entry"\}\n?'
).fullmatch


class _Run:
    def __init__(
        self,
        public_key: Ed25519PublicKey,
        key_name: str | None,
        origin: str | None,
        trusted: Checkpoint | None = None,
    ) -> None:
        self.public_key = public_key
        self.key_name = key_name
        self.origin = origin
        self.trusted = trusted
        self.frontier = CompactRange()
        self.size = 0
        self.covered = 0
        self.checkpoints = 0
        self.last_checkpoint: Checkpoint | None = None
        self.first_uncovered_line = 0
        self.lines_read = 0

    def verify(self, lines: Iterable[str]) -> None:
        # This loop is the whole cost of verifying a large export: names are bound locally.
        append = self.frontier.append
        decode = json.JSONDecoder().decode
        seen_ids: set[str] = set()
        size = 0
        line_no = 0
        # -1 (never reached) without a trusted checkpoint: one comparison per entry either way.
        trusted_size = self.trusted.tree_size if self.trusted is not None else -1
        if trusted_size == 0:
            self._at_trusted_size(0)
        iterator = iter(lines)
        try:
            while True:
                try:
                    line = next(iterator)
                except StopIteration:
                    break
                except UnicodeDecodeError:
                    # Text files decode in blocks: the bad bytes are here or a little later.
                    raise _Failed(line_no + 1, "not valid UTF-8 (here or shortly after)") from None
                line_no += 1
                fast = _fast_entry(line, size)
                if fast is not None:
                    entry_id, canonical = fast
                else:
                    try:
                        record = decode(line)
                    except ValueError:
                        if not line.strip():
                            continue
                        raise _Failed(line_no, "line is not valid JSON") from None
                    if type(record) is not dict:
                        raise _Failed(line_no, "line is not a JSON object")
                    kind = record.pop("type", None)
                    if kind == "checkpoint":
                        self._checkpoint(line_no, record, size)
                        continue
                    if kind == "error":
                        message = record.get("message")
                        raise _Failed(
                            line_no,
                            "the export is incomplete, the server stopped it: "
                            + (message if type(message) is str else "no reason given"),
                        )
                    if kind != "entry":
                        raise _Failed(line_no, f"unknown line type {kind!r}")
                    entry_id, canonical = _checked_entry(line_no, record, size)
                if entry_id in seen_ids:
                    raise _Failed(line_no, f"entry_id {entry_id!r} is used by an earlier entry")
                seen_ids.add(entry_id)
                append(leaf_hash(canonical))
                if size == self.covered:
                    self.first_uncovered_line = line_no
                size += 1
                if size == trusted_size:
                    self._at_trusted_size(line_no)
        finally:
            self.size = size
            self.lines_read = line_no

    def _at_trusted_size(self, line_no: int) -> None:
        trusted = self.trusted
        assert trusted is not None
        if self.frontier.root() != trusted.root_hash:
            raise _Failed(
                line_no,
                f"entries 0..{trusted.tree_size - 1} do not match the trusted checkpoint at size"
                f" {trusted.tree_size} (root differs): the log's history was rewritten (rollback or fork)",
            )
        # Entries up to a signed size are covered, whichever signature says so.
        self.covered = max(self.covered, trusted.tree_size)

    def check_reached_trusted(self) -> None:
        trusted = self.trusted
        if trusted is not None and self.size < trusted.tree_size:
            raise _Failed(
                self.lines_read + 1,
                f"the export ends after {self.size} entries, but the trusted checkpoint commits to"
                f" {trusted.tree_size}: entries were removed (truncation or rollback), or the export"
                " is older than the checkpoint",
            )

    def _checkpoint(self, line_no: int, obj: dict[str, Any], entries: int) -> None:
        note = obj.get("note")
        if type(note) is not str or obj.keys() != {"note"}:
            raise _Failed(line_no, "checkpoint line must hold exactly a 'note' string")
        try:
            checkpoint = verify_signed_checkpoint(note, self.public_key, self.key_name)
        except CheckpointError as error:
            raise _Failed(line_no, f"checkpoint rejected: {error}") from None
        size = checkpoint.tree_size
        if self.origin is not None and checkpoint.origin != self.origin:
            raise _Failed(
                line_no,
                f"checkpoint origin {checkpoint.origin!r} is not the log's {self.origin!r}",
            )
        previous = self.last_checkpoint
        if previous is not None and size < previous.tree_size:
            raise _Failed(
                line_no,
                f"checkpoint size {size} is smaller than the previous checkpoint's"
                f" {previous.tree_size}: checkpoint sizes must never decrease",
            )
        if size > entries:
            raise _Failed(
                line_no,
                f"checkpoint at size {size} follows only {entries} entries:"
                f" entries {entries}..{size - 1} were deleted (or the checkpoint moved)",
            )
        if size < entries:
            place = f"directly follow entry {size - 1}" if size else "come before every entry"
            raise _Failed(
                line_no,
                f"checkpoint at size {size} appears after entry {entries - 1};"
                f" it must {place} (entries were inserted or the checkpoint moved)",
            )
        if checkpoint.root_hash != self.frontier.root():
            raise _Failed(
                line_no,
                f"checkpoint at size {size} does not match the entries (root differs):"
                " entries before it were changed, inserted or removed",
            )
        self.origin = checkpoint.origin
        self.last_checkpoint = checkpoint
        self.checkpoints += 1
        self.covered = size


def _fast_entry(line: str, expected_index: int) -> tuple[str, bytes] | None:
    """Entry ID and canonical bytes of a canonical entry line that passes every check."""
    match = _CANONICAL_ENTRY_LINE(line)
    if match is None:
        return None
    body, basis, _, entry_id, fields, grant_id, index, legal_basis = match.groups()[:8]
    names = fields[1:-1].split('","')
    if (
        int(index) != expected_index
        or (
            (grant_id, legal_basis) != (None, None)
            if basis == "sign-in"
            else (grant_id if basis == "consent" else legal_basis) is None
        )
        or names != sorted(set(names))
    ):
        return None
    try:
        return entry_id, (body + "}").encode()
    except UnicodeEncodeError:  # lone surrogates: let the json path report them
        return None


def _checked_entry(line_no: int, entry: dict[str, Any], expected_index: int) -> tuple[str, bytes]:
    index = entry.get("index")
    if index != expected_index or type(index) is not int:
        raise _Failed(line_no, _index_message(index, expected_index))
    problem = entry_problem(entry)
    if problem is not None:
        raise _Failed(line_no, problem)
    try:
        return entry["entry_id"], canonical_json(entry).encode()
    except UnicodeEncodeError:
        raise _Failed(line_no, "entry text is not valid Unicode") from None


def _index_message(index: object, expected: int) -> str:
    if type(index) is not int:
        return f"entry index {index!r} is not an integer (expected {expected})"
    if index > expected:
        return f"entry index {index} expected {expected} (an entry was deleted or reordered)"
    return f"entry index {index} expected {expected} (an entry was inserted or reordered)"
