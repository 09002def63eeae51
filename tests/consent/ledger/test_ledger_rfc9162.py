"""RFC 9162 §2.1 hashing and proofs, checked against published vectors and a literal,
recursive transcription of the RFC's definitions (MTH, PATH, PROOF/SUBPROOF)."""

from __future__ import annotations

import hashlib

import pytest

from consent.ledger.rfc9162 import (
    EMPTY_ROOT,
    CompactRange,
    MemoryMerkleLog,
    NodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 64


# --- RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 written out literally, sharing no code -------


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _hash(b"")
    if n == 1:
        return _hash(b"\x00" + d[0])
    k = _split(n)
    return _hash(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = _split(n)
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    return naive_subproof(m, d, True)


# --- fixtures -----------------------------------------------------------------------

DATA = [f"disclosure {i}".encode() for i in range(MAX_SIZE)]


@pytest.fixture(scope="module")
def log() -> MemoryMerkleLog:
    log = MemoryMerkleLog()
    for item in DATA:
        log.append_data(item)
    return log


# --- published vectors (certificate-transparency's 8-leaf test tree) ------------------

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
]


@pytest.fixture(scope="module")
def ct_log() -> MemoryMerkleLog:
    log = MemoryMerkleLog()
    for item in CT_LEAVES:
        log.append_data(item)
    return log


def test_empty_root_is_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert CompactRange().root() == EMPTY_ROOT
    assert MemoryMerkleLog().root() == EMPTY_ROOT


def test_leaf_and_node_hashes_use_domain_separation() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


def test_published_roots(ct_log: MemoryMerkleLog) -> None:
    frontier = CompactRange()
    for size, (data, expected) in enumerate(zip(CT_LEAVES, CT_ROOTS, strict=True), start=1):
        frontier.append(leaf_hash(data))
        assert frontier.root().hex() == expected
        assert ct_log.root(size).hex() == expected


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_published_inclusion_proofs(
    ct_log: MemoryMerkleLog, index: int, size: int, expected: list[str]
) -> None:
    proof = ct_log.inclusion_proof(index, size)
    assert [p.hex()[:8] for p in proof] == expected
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, root)


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_published_consistency_proofs(
    ct_log: MemoryMerkleLog, old: int, new: int, expected: list[str]
) -> None:
    proof = ct_log.consistency_proof(old, new)
    assert [p.hex()[:8] for p in proof] == expected
    old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, proof)


# --- every size and pair up to 64, against the literal RFC definitions ----------------


@pytest.mark.parametrize("n", range(MAX_SIZE + 1))
def test_roots_match_mth(log: MemoryMerkleLog, n: int) -> None:
    frontier = CompactRange()
    for item in DATA[:n]:
        frontier.append(leaf_hash(item))
    expected = naive_mth(DATA[:n])
    assert frontier.root() == expected
    assert log.root(n) == expected


@pytest.mark.parametrize("n", range(1, MAX_SIZE + 1))
def test_inclusion_proofs_match_path_and_verify(log: MemoryMerkleLog, n: int) -> None:
    root = naive_mth(DATA[:n])
    for m in range(n):
        proof = log.inclusion_proof(m, n)
        assert proof == naive_path(m, DATA[:n]), (m, n)
        assert verify_inclusion(leaf_hash(DATA[m]), m, n, proof, root), (m, n)


@pytest.mark.parametrize("n", range(1, MAX_SIZE + 1))
def test_consistency_proofs_match_proof_and_verify(log: MemoryMerkleLog, n: int) -> None:
    new_root = naive_mth(DATA[:n])
    for m in range(1, n + 1):
        proof = log.consistency_proof(m, n)
        assert proof == naive_proof(m, DATA[:n]), (m, n)
        assert verify_consistency(m, n, naive_mth(DATA[:m]), new_root, proof), (m, n)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@pytest.mark.parametrize("n", range(1, MAX_SIZE + 1))
def test_tampered_inclusion_proofs_fail(log: MemoryMerkleLog, n: int) -> None:
    root = log.root(n)
    for m in range(n):
        leaf = leaf_hash(DATA[m])
        proof = log.inclusion_proof(m, n)
        for i in range(len(proof)):
            assert not verify_inclusion(leaf, m, n, [*proof[:i], _flip(proof[i]), *proof[i + 1 :]], root)
        if proof:
            assert not verify_inclusion(leaf, m, n, proof[:-1], root)
        if len(proof) > 1:
            assert not verify_inclusion(leaf, m, n, proof[::-1], root)
        assert not verify_inclusion(leaf, m, n, [*proof, proof[-1] if proof else root], root)
        assert not verify_inclusion(_flip(leaf), m, n, proof, root)
        assert not verify_inclusion(leaf, m, n, proof, _flip(root))
        assert not verify_inclusion(leaf, m + 1, n, proof, root)
        assert not verify_inclusion(leaf, n, n, proof, root)


@pytest.mark.parametrize("n", range(1, MAX_SIZE + 1))
def test_tampered_consistency_proofs_fail(log: MemoryMerkleLog, n: int) -> None:
    new_root = log.root(n)
    for m in range(1, n):
        old_root = log.root(m)
        proof = log.consistency_proof(m, n)
        for i in range(len(proof)):
            bad = [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]
            assert not verify_consistency(m, n, old_root, new_root, bad), (m, n, i)
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
        assert not verify_consistency(m, n, old_root, new_root, [*proof, proof[-1]])
        assert not verify_consistency(m, n, _flip(old_root), new_root, proof)
        assert not verify_consistency(m, n, old_root, _flip(new_root), proof)
        assert not verify_consistency(m, n, log.root(m - 1), new_root, proof)
        assert not verify_consistency(n, m, new_root, old_root, proof)
        assert not verify_consistency(m, n, old_root, new_root, [])


def test_trivial_consistency_cases() -> None:
    root = naive_mth(DATA[:5])
    assert consistency_proof(0, 5, lambda level, index: b"") == []
    assert consistency_proof(5, 5, lambda level, index: b"") == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, root, root, [])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, _flip(root), [])
    assert not verify_consistency(5, 5, root, root, [root])
    with pytest.raises(ValueError):
        consistency_proof(6, 5, lambda level, index: b"")


def test_malformed_proof_elements_fail(log: MemoryMerkleLog) -> None:
    proof = log.inclusion_proof(3, 10)
    root = log.root(10)
    assert not verify_inclusion(leaf_hash(DATA[3]), 3, 10, [*proof[:-1], proof[-1][:31]], root)
    assert not verify_inclusion(leaf_hash(DATA[3]), -1, 10, proof, root)


# --- storage-facing pieces -------------------------------------------------------------


def test_frontier_round_trips_and_keeps_appending() -> None:
    frontier = CompactRange()
    for size, item in enumerate(DATA, start=1):
        frontier.append(leaf_hash(item))
        saved = frontier.to_hashes()
        assert len(saved) == size.bit_count()
        restored = CompactRange.from_hashes(size, saved)
        assert restored.root() == frontier.root()
        frontier = restored
    assert frontier.root() == naive_mth(DATA)


def test_frontier_rejects_wrong_hash_count() -> None:
    with pytest.raises(ValueError, match="has 2 hashes"):
        CompactRange.from_hashes(3, [b"\x00" * 32])
    with pytest.raises(ValueError):
        CompactRange.from_hashes(1, [b"\x00" * 31])


def test_frontier_nodes_are_the_perfect_subtrees_of_its_size() -> None:
    frontier = CompactRange()
    for item in DATA[:13]:
        frontier.append(leaf_hash(item))
    assert [(n.level, n.index) for n in frontier.nodes()] == [(3, 0), (2, 2), (0, 12)]
    assert [n.hash for n in frontier.nodes()] == [
        naive_mth(DATA[0:8]),
        naive_mth(DATA[8:12]),
        naive_mth(DATA[12:13]),
    ]


def test_node_store_emits_each_perfect_subtree_once_with_its_hash() -> None:
    store = NodeStore()
    seen: dict[tuple[int, int], bytes] = {}
    for size, item in enumerate(DATA, start=1):
        completed = store.append(leaf_hash(item))
        assert len(completed) == 1 + ((size - 1) ^ size).bit_length() - 1
        for node in completed:
            assert (node.level, node.index) not in seen
            seen[node.level, node.index] = node.hash
        assert len(seen) == 2 * size - size.bit_count()
        assert store.root() == naive_mth(DATA[:size])
    for (level, index), value in seen.items():
        width = 1 << level
        assert value == naive_mth(DATA[index * width : (index + 1) * width])


def test_node_store_resumes_from_a_saved_frontier() -> None:
    store = NodeStore()
    for item in DATA[:21]:
        store.append(leaf_hash(item))
    resumed = NodeStore(CompactRange.from_hashes(21, store.frontier.to_hashes()))
    assert resumed.append(leaf_hash(DATA[21])) == store.append(leaf_hash(DATA[21]))


def test_proofs_read_logarithmically_many_nodes() -> None:
    log = MemoryMerkleLog()
    for i in range(5000):
        log.append_data(i.to_bytes(4, "big"))
    reads = []

    def counting_get_node(level: int, index: int) -> bytes:
        reads.append((level, index))
        return log.get_node(level, index)

    for size in (4999, 5000, 4097, 3333):
        for index in (0, 1, size // 2, size - 1):
            reads.clear()
            proof = inclusion_proof(index, size, counting_get_node)
            assert len(reads) <= 2 * size.bit_length()
            assert verify_inclusion(log.get_node(0, index), index, size, proof, log.root(size))
        for old in (1, 7, size // 3, size - 1):
            reads.clear()
            proof = consistency_proof(old, size, counting_get_node)
            assert len(reads) <= 2 * size.bit_length()
            assert verify_consistency(old, size, log.root(old), log.root(size), proof)


def test_proofs_only_touch_completed_nodes_of_the_requested_size(log: MemoryMerkleLog) -> None:
    def guarded(size: int):
        def get_node(level: int, index: int) -> bytes:
            assert (index + 1) << level <= size, "read a subtree beyond the tree size"
            return log.get_node(level, index)

        return get_node

    for n in range(1, MAX_SIZE + 1):
        for m in range(n):
            inclusion_proof(m, n, guarded(n))
        for m in range(1, n + 1):
            consistency_proof(m, n, guarded(n))


def test_subtree_hash_rejects_unaligned_ranges(log: MemoryMerkleLog) -> None:
    assert subtree_hash(8, 13, log.get_node) == naive_mth(DATA[8:13])
    with pytest.raises(ValueError, match="not aligned"):
        subtree_hash(3, 7, log.get_node)


def test_inclusion_proof_rejects_index_outside_tree(log: MemoryMerkleLog) -> None:
    with pytest.raises(ValueError):
        log.inclusion_proof(10, 10)
    with pytest.raises(ValueError):
        log.inclusion_proof(0, MAX_SIZE + 1)
    with pytest.raises(LookupError):
        log.get_node(7, 0)
