"""kit.file_sealing: chunked AES-GCM files under wrapped per-file keys."""

from __future__ import annotations

import os

import pytest

from kit.file_sealing import MAGIC, FileSealer, SealedFileError, is_sealed_file
from kit.sealing import TAG_BYTES

CHUNK = 1024
KEY_A = os.urandom(32)
KEY_B = os.urandom(32)


def sealer(active: str = "a", **keys: bytes) -> FileSealer:
    return FileSealer(keys or {"a": KEY_A}, active, chunk_bytes=CHUNK)


def header_length(sealed: bytes) -> int:
    key_id_length = sealed[13]
    offset = 14 + key_id_length
    return offset + 1 + sealed[offset]


def chunks_of(sealed: bytes) -> tuple[bytes, list[bytes]]:
    start, stride = header_length(sealed), CHUNK + TAG_BYTES
    body = sealed[start:]
    return sealed[:start], [body[i : i + stride] for i in range(0, len(body), stride)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])
def test_round_trip_at_every_boundary(size: int) -> None:
    data = os.urandom(size)
    sealed = sealer().seal(data, context="store")
    assert is_sealed_file(sealed) and sealed.startswith(MAGIC)
    assert sealer().open(sealed, context="store") == data


def test_the_sealed_file_does_not_contain_the_plaintext_and_each_seal_differs() -> None:
    data = b"<html>secret resident document</html>" * 100
    first, second = sealer().seal(data, context="store"), sealer().seal(data, context="store")
    assert b"secret resident" not in first and first != second


def test_a_flipped_bit_anywhere_fails() -> None:
    sealed = sealer().seal(os.urandom(3 * CHUNK + 5), context="store")
    for position in (9, 20, header_length(sealed) - 1, header_length(sealed) + 3, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(SealedFileError):
            sealer().open(bytes(tampered), context="store")


def test_reordered_chunks_fail() -> None:
    header, chunks = chunks_of(sealer().seal(os.urandom(3 * CHUNK + 5), context="store"))
    swapped = header + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    with pytest.raises(SealedFileError):
        sealer().open(swapped, context="store")


def test_truncation_at_a_chunk_boundary_fails() -> None:
    header, chunks = chunks_of(sealer().seal(os.urandom(3 * CHUNK + 5), context="store"))
    for keep in (0, 1, 2, 3):
        with pytest.raises(SealedFileError):
            sealer().open(header + b"".join(chunks[:keep]), context="store")


def test_a_dropped_or_repeated_chunk_fails() -> None:
    header, chunks = chunks_of(sealer().seal(os.urandom(3 * CHUNK), context="store"))
    with pytest.raises(SealedFileError):
        sealer().open(header + chunks[0] + chunks[2], context="store")
    with pytest.raises(SealedFileError):
        sealer().open(header + chunks[0] + chunks[0] + chunks[1] + chunks[2], context="store")


def test_chunks_of_another_file_fail() -> None:
    header, _ = chunks_of(sealer().seal(os.urandom(2 * CHUNK), context="store"))
    _, foreign = chunks_of(sealer().seal(os.urandom(2 * CHUNK), context="store"))
    with pytest.raises(SealedFileError):
        sealer().open(header + b"".join(foreign), context="store")


def test_wrong_key_wrong_context_unknown_key_and_garbage_fail() -> None:
    sealed = sealer().seal(b"data", context="store")
    with pytest.raises(SealedFileError):
        FileSealer({"a": KEY_B}, "a", chunk_bytes=CHUNK).open(sealed, context="store")
    with pytest.raises(SealedFileError):
        sealer().open(sealed, context="another store")
    with pytest.raises(SealedFileError):
        FileSealer({"b": KEY_B}, "b").open(sealed, context="store")
    for garbage in (b"", b"%PDF-1.7", MAGIC, sealed[: header_length(sealed)]):
        with pytest.raises(SealedFileError):
            sealer().open(garbage, context="store")


def test_rewrap_moves_the_file_key_and_keeps_the_chunks() -> None:
    data = os.urandom(2 * CHUNK + 9)
    old = sealer().seal(data, context="store")
    ring = sealer("b", a=KEY_A, b=KEY_B)
    assert ring.needs_rewrap(old)
    moved = ring.rewrap(old, context="store")
    assert not ring.needs_rewrap(moved)
    assert chunks_of(moved)[1] == chunks_of(old)[1]
    assert FileSealer({"b": KEY_B}, "b", chunk_bytes=CHUNK).open(moved, context="store") == data
    with pytest.raises(SealedFileError):
        sealer().open(moved, context="store")


def test_construction_refuses_bad_rings() -> None:
    with pytest.raises(ValueError):
        FileSealer({"a": KEY_A}, "b")
    with pytest.raises(ValueError):
        FileSealer({"a.b": KEY_A}, "a.b")
    with pytest.raises(ValueError):
        FileSealer({"a": b"short"}, "a")
    with pytest.raises(ValueError):
        FileSealer({"a": KEY_A}, "a", chunk_bytes=10)
    with pytest.raises(ValueError):
        sealer().seal(b"x", context="")
