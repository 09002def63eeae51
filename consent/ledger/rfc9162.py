"""Merkle tree hashing, proofs and their verification per RFC 9162 §2.1 (SHA-256).

Storage stays outside: proofs are generated from a ``get_node(level, index)`` callable
returning the hash of the perfect subtree of ``2**level`` leaves that starts at leaf
``index * 2**level``. Completed perfect subtrees never change in an append-only log,
so a storage layer keeps one row per such node (fed by :class:`NodeStore`) and a proof
reads O(log n) of them; nothing ever re-hashes the whole log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HASH_SIZE = 32

GetNode = Callable[[int, int], bytes]

_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()
"""MTH({}) = HASH() — RFC 9162 §2.1.1."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0)) — RFC 9162 §2.1.1."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right) — RFC 9162 §2.1.1."""
    return _sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, slots=True)
class Node:
    """A completed perfect subtree: ``2**level`` leaves starting at leaf ``index * 2**level``."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The right-hand frontier of a log: one perfect-subtree hash per set bit of its size.

    Appending is O(log n) and the frontier is O(log n) hashes, so a writer can persist
    it after every append (:meth:`to_hashes` / :meth:`from_hashes`) and a verifier can
    stream a log of any length in constant memory per level.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        # Largest (leftmost) subtree first; sizes follow the set bits of _size.
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        hashes = self._hashes
        carry = self._size
        while carry & 1:
            leaf_hash = node_hash(hashes.pop(), leaf_hash)
            carry >>= 1
        hashes.append(leaf_hash)
        self._size += 1

    def append_nodes(self, leaf_hash: bytes) -> list[Node]:
        """Append, returning the perfect subtrees the new leaf completes (leaf first)."""
        hashes = self._hashes
        index = self._size
        completed = [Node(0, index, leaf_hash)]
        level = 0
        while index & 1:
            leaf_hash = node_hash(hashes.pop(), leaf_hash)
            index >>= 1
            level += 1
            completed.append(Node(level, index, leaf_hash))
        hashes.append(leaf_hash)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH(D[size]): fold the frontier from the right, as RFC 9162 §2.1.1 splits."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        root = hashes[-1]
        for left in reversed(hashes[:-1]):
            root = node_hash(left, root)
        return root

    def nodes(self) -> list[Node]:
        """The frontier as nodes, largest subtree first."""
        result: list[Node] = []
        start = 0
        for level in reversed(range(self._size.bit_length())):
            if self._size >> level & 1:
                result.append(Node(level, start >> level, self._hashes[len(result)]))
                start += 1 << level
        return result

    def to_hashes(self) -> list[bytes]:
        return list(self._hashes)

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild a frontier saved by :meth:`to_hashes`; the size says which subtrees they are."""
        if size < 0:
            raise ValueError("size must not be negative")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes, got {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"frontier hashes must be {HASH_SIZE} bytes")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [bytes(h) for h in hashes]
        return frontier

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


class NodeStore:
    """Feeds a storage layer the nodes to insert as leaves are appended.

    Appending leaf ``i`` completes the level-0 node ``i`` and one parent per trailing
    one-bit of ``i``: at most ``log2(n) + 1`` nodes, on average two.
    """

    def __init__(self, frontier: CompactRange | None = None) -> None:
        self.frontier = frontier if frontier is not None else CompactRange()

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, leaf_hash: bytes) -> list[Node]:
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        return self.frontier.append_nodes(leaf_hash)

    def root(self) -> bytes:
        return self.frontier.root()


def _largest_power_of_two_below(n: int) -> int:
    """k such that k < n <= 2k, the split point of RFC 9162 §2.1.1 (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, get_node: GetNode) -> bytes:
    """MTH(D[start:end]) from at most log2(end - start) + 1 perfect-subtree nodes.

    Every range RFC 9162's recursion visits is aligned: ``start`` is a multiple of the
    largest power of two not exceeding ``end - start``, so the range splits into
    perfect subtrees of decreasing size, which fold from the right exactly as MTH does.
    """
    size = end - start
    if size <= 0 or start < 0:
        raise ValueError(f"empty or negative range [{start}, {end})")
    pieces = []
    position = start
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            if position & ((1 << level) - 1):
                raise ValueError(f"range [{start}, {end}) is not aligned to its subtrees")
            pieces.append(get_node(level, position >> level))
            position += 1 << level
    result = pieces[-1]
    for left in reversed(pieces[:-1]):
        result = node_hash(left, result)
    return result


def root_from_nodes(tree_size: int, get_node: GetNode) -> bytes:
    """MTH(D[tree_size]) for any size the store has reached (its nodes never change)."""
    if tree_size < 0:
        raise ValueError("tree size must not be negative")
    return subtree_hash(0, tree_size, get_node) if tree_size else EMPTY_ROOT


def inclusion_proof(leaf_index: int, tree_size: int, get_node: GetNode) -> list[bytes]:
    """PATH(m, D[n]) — RFC 9162 §2.1.3.1, leaf-level sibling first.

    Walks the RFC recursion top-down; at most one sibling (the right edge) is an
    incomplete subtree, so the proof costs O(log n) node reads.
    """
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    path = []
    start, end = 0, tree_size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if leaf_index < start + k:
            path.append(subtree_hash(start + k, end, get_node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, get_node))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) — RFC 9162 §2.1.4.1.

    Empty when ``old_size`` is 0 or equals ``new_size``: there is nothing to prove.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return []
    proof = []
    m = old_size
    start, end = 0, new_size
    complete_old_subtree = True
    while True:
        size = end - start
        if m == size:
            if not complete_old_subtree:
                proof.append(subtree_hash(start, end, get_node))
            break
        k = _largest_power_of_two_below(size)
        if m <= k:
            proof.append(subtree_hash(start + k, end, get_node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, get_node))
            start += k
            m -= k
            complete_old_subtree = False
    proof.reverse()
    return proof


def _valid_hashes(hashes: Sequence[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify an inclusion proof — RFC 9162 §2.1.3.2, step by step."""
    if not 0 <= leaf_index < tree_size or not _valid_hashes([leaf_hash, root, *proof]):
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Verify a consistency proof — RFC 9162 §2.1.4.2, step by step.

    The RFC leaves the trivial cases undefined; like Trillian we accept them only with
    an empty proof: equal sizes need equal roots, and size 0 needs the empty root.
    """
    if not 0 <= old_size <= new_size or not _valid_hashes([old_root, new_root, *proof]):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MemoryMerkleLog:
    """An in-memory log keeping every completed perfect subtree, for tests and benchmarks.

    ``_levels[level][index]`` is the node table a database keeps as rows; levels are
    dense (node ``i`` exists once leaf ``(i + 1) * 2**level - 1`` is appended), so lists
    stand in for the dicts a sparse store would need.
    """

    def __init__(self) -> None:
        self._store = NodeStore()
        self._levels: list[list[bytes]] = []

    @property
    def size(self) -> int:
        return self._store.size

    def append(self, leaf_hash: bytes) -> int:
        """Append a leaf hash; return its index."""
        index = self._store.size
        levels = self._levels
        for node in self._store.append(leaf_hash):
            if node.level == len(levels):
                levels.append([])
            levels[node.level].append(node.hash)
        return index

    def append_data(self, data: bytes) -> int:
        return self.append(leaf_hash(data))

    def get_node(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise LookupError(f"no completed subtree at level {level}, index {index}")

    def root(self, tree_size: int | None = None) -> bytes:
        if tree_size is None:
            return self._store.root()
        self._check_size(tree_size)
        return root_from_nodes(tree_size, self.get_node)

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        tree_size = self.size if tree_size is None else self._check_size(tree_size)
        return inclusion_proof(leaf_index, tree_size, self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self.size if new_size is None else self._check_size(new_size)
        return consistency_proof(old_size, new_size, self.get_node)

    def _check_size(self, tree_size: int) -> int:
        if not 0 <= tree_size <= self.size:
            raise ValueError(f"tree size {tree_size} is outside 0..{self.size}")
        return tree_size
