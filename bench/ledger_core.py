"""Benchmark the database-free ledger core: offline verification and proof generation.

Run: .venv/bin/python bench/ledger_core.py [--entries N]
Targets at 1,000,000 entries: verification of the export <= 15 s; inclusion proof <= 5 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.ledger.checkpoint import Checkpoint, public_key_to_vkey, sign_checkpoint
from consent.ledger.entry import canonical_entry_bytes
from consent.ledger.rfc9162 import CompactRange, MemoryMerkleLog, leaf_hash, verify_inclusion
from consent.ledger.verifier import (
    VerificationReport,
    export_checkpoint_line,
    export_entry_line,
    verify_export,
)

ORIGIN = "egate.example.gov.hk/disclosure-ledger"
CHECKPOINT_EVERY = 100_000
FIELD_SETS = (
    ["email", "name_en", "name_zh"],
    ["date_of_birth", "hkid_masked", "name_en"],
    ["address", "email", "mobile", "name_en", "name_zh"],
)
CLIENTS = (
    ("td-licensing", "TD"),
    ("ird-etax", "IRD"),
    ("hd-housing", "HD"),
    ("imm-passport", "ImmD"),
)


def make_entry(index: int, rng: random.Random) -> dict[str, object]:
    client, department = rng.choice(CLIENTS)
    consent = rng.random() < 0.8
    return {
        "index": index,
        "entry_id": f"dl-{index:012d}-{rng.getrandbits(64):016x}",
        "recorded_at": f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T08:{index % 60:02d}:"
        f"{index % 59:02d}.{index % 1000000:06d}Z",
        "resident_id": f"res-{rng.getrandbits(96):024x}",
        "recipient_client_id": client,
        "recipient_department": department,
        "channel": rng.choice(("id_token", "userinfo", "form_prefill")),
        "fields": rng.choice(FIELD_SETS),
        "purpose": "Application for a licence renewal",
        "basis": "consent" if consent else "legal",
        "grant_id": f"grant-{rng.getrandbits(64):016x}" if consent else None,
        "legal_basis": None if consent else "Cap. 374 s. 42",
        "request_id": f"req-{rng.getrandbits(64):016x}",
    }


def timed(label: str, action: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return result


def build_export(count: int, path: str, key: Ed25519PrivateKey) -> MemoryMerkleLog:
    rng = random.Random(9162)
    log = MemoryMerkleLog()
    with open(path, "w", encoding="utf-8") as out:
        for index in range(count):
            entry = make_entry(index, rng)
            log.append(leaf_hash(canonical_entry_bytes(entry)))
            out.write(export_entry_line(entry) + "\n")
            if log.size % CHECKPOINT_EVERY == 0 or log.size == count:
                checkpoint = Checkpoint(ORIGIN, log.size, log.root(), 1_740_000_000 + index)
                out.write(export_checkpoint_line(sign_checkpoint(checkpoint, key, ORIGIN)) + "\n")
    return log


def verify_reformatted(count: int, key: Ed25519PrivateKey, vkey: str) -> VerificationReport:
    """Lines as json.dumps writes them by default: spaces, \\u escapes, other key order."""
    rng = random.Random(9162)
    frontier = CompactRange()
    lines = []
    for index in range(count):
        entry = make_entry(index, rng)
        frontier.append(leaf_hash(canonical_entry_bytes(entry)))
        lines.append(json.dumps({"type": "entry", **entry}))
    checkpoint = Checkpoint(ORIGIN, count, frontier.root(), 1_740_000_000)
    lines.append(export_checkpoint_line(sign_checkpoint(checkpoint, key, ORIGIN)))
    started = time.perf_counter()
    report = verify_export(lines, vkey)
    elapsed = time.perf_counter() - started
    assert report.ok, report.first_error
    print(f"    verification alone: {elapsed:.2f} s ({elapsed / count * 1e6:.1f} us per entry)")
    return report


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_each(count: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report_ms(label: str, samples: list[float]) -> None:
    print(
        f"{label}: median {statistics.median(samples):.3f} ms,"
        f" p99 {percentile(samples, 0.99):.3f} ms, max {max(samples):.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    vkey = public_key_to_vkey(ORIGIN, key.public_key())
    rng = random.Random(6962)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger-export.jsonl")
        log = timed(
            f"(a) build {args.entries:,}-entry export + in-memory log (not a target)",
            lambda: build_export(args.entries, path, key),
        )
        assert isinstance(log, MemoryMerkleLog)
        print(f"    export file: {os.path.getsize(path) / 1e6:.1f} MB")

        def verify() -> object:
            with open(path, encoding="utf-8") as lines:
                return verify_export(lines, vkey)

        report = timed("(b) offline verification from file, streaming (target <= 15 s)", verify)
        assert isinstance(report, VerificationReport)
        print(
            f"    ok={report.ok} entries={report.entries_checked:,}"
            f" checkpoints={report.checkpoints_checked} error={report.first_error}"
        )

    timed(
        "(b2) the same for 100,000 reformatted entries (json fallback path, no target)",
        lambda: verify_reformatted(100_000, key, vkey),
    )

    # A collection of the export's garbage must not land inside one timed proof.
    gc.collect()
    size = log.size
    root = log.root()
    indices = [rng.randrange(size) for _ in range(args.proofs)]
    proofs = []
    samples = []
    for index in indices:
        started = time.perf_counter()
        proofs.append(log.inclusion_proof(index))
        samples.append((time.perf_counter() - started) * 1000)
    report_ms(f"(c) inclusion proof at {size:,} entries (target <= 5 ms)", samples)
    assert all(
        verify_inclusion(log.get_node(0, i), i, size, proof, root)
        for i, proof in zip(indices, proofs, strict=True)
    )
    old_sizes = iter([rng.randrange(1, size + 1) for _ in range(args.proofs)])
    samples = time_each(args.proofs, lambda: log.consistency_proof(next(old_sizes)))
    report_ms(f"(d) consistency proof m -> {size:,}", samples)
    leaf = log.get_node(0, indices[0])
    samples = time_each(args.proofs, lambda: verify_inclusion(leaf, indices[0], size, proofs[0], root))
    report_ms("(e) inclusion proof verification", samples)


if __name__ == "__main__":
    main()
