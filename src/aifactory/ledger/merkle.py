"""RFC 9162 Merkle trees over stored subtree hashes: roots, proofs, their verification, the frontier.

Storage model: the hash of every complete, aligned subtree is a *node* keyed ``(level, index)``.
Node (level, i) covers the leaves [i * 2**level, (i + 1) * 2**level); level 0 holds the leaf
hashes. Every algorithm here first works out all the keys it needs, then asks its `NodeReader`
for them in one call, then computes: a database-backed reader answers with one query, so the cost
of a proof is one round trip however deep the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MemoryNodes",
    "NodeKey",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_hash",
    "subtree_keys",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree."""

NodeKey: TypeAlias = tuple[int, int]
"""(level, index) of a stored node."""

_Range: TypeAlias = tuple[int, int]


class ProofError(ValueError):
    """A Merkle proof does not prove what it claims to."""


def leaf_hash(leaf: bytes) -> bytes:
    """The hash that enters the tree for one leaf's data: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class NodeReader(Protocol):
    """Where stored nodes come from; each call should cost one query, whatever the number of keys."""

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The stored hashes of `keys`; keys without a stored node are left out."""
        ...


class MemoryNodes:
    """A dict-backed `NodeReader`, for tests and for recomputing a tree in memory."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MemoryNodes:
        """Every node of the tree with these leaf hashes, in order."""
        store, frontier = cls(), Frontier()
        for hash_ in hashes:
            store.add(frontier.append(hash_))
        return store

    def add(self, items: Iterable[tuple[NodeKey, bytes]]) -> None:
        """Store nodes, such as those `Frontier.append` returns."""
        self._nodes.update(items)

    def nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes of `keys`; keys without a stored node are left out."""
        return {key: self._nodes[key] for key in keys if key in self._nodes}


# --- ranges and the subtrees that make them up -----------------------------------------------------


def _split(size: int) -> int:
    """RFC 9162's k: the largest power of two smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _aligned_key(start: int, size: int) -> NodeKey | None:
    """The node that is exactly [start, start + size), if there is one."""
    if size & (size - 1) or start % size:
        return None
    level = size.bit_length() - 1
    return level, start >> level


def _check_range(start: int, end: int) -> None:
    if not 0 <= start <= end:
        raise ValueError(f"need 0 <= start <= end, got start={start} end={end}")


def subtree_keys(start: int, end: int) -> list[NodeKey]:
    """The stored nodes that MTH(D[start:end]) is built from, split the way RFC 9162 splits."""
    _check_range(start, end)
    if start == end:
        return []
    key = _aligned_key(start, end - start)
    if key is not None:
        return [key]
    middle = start + _split(end - start)
    return subtree_keys(start, middle) + subtree_keys(middle, end)


def subtree_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from the nodes `subtree_keys(start, end)` names."""
    _check_range(start, end)
    if start == end:
        return EMPTY_ROOT
    key = _aligned_key(start, end - start)
    if key is not None:
        return nodes[key]
    middle = start + _split(end - start)
    return node_hash(subtree_hash(start, middle, nodes), subtree_hash(middle, end, nodes))


def _fetch(reader: NodeReader, keys: Iterable[NodeKey]) -> Mapping[NodeKey, bytes]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    found = reader.nodes(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        raise LookupError(
            f"the node store lacks {len(missing)} of {len(wanted)} nodes needed, "
            f"first (level, index) = {missing[0]}: is the tree smaller than asked?"
        )
    return found


def _hash_ranges(reader: NodeReader, ranges: Sequence[_Range]) -> list[bytes]:
    """MTH of each range, with every node they need read in one call."""
    nodes = _fetch(reader, (key for start, end in ranges for key in subtree_keys(start, end)))
    return [subtree_hash(start, end, nodes) for start, end in ranges]


# --- roots and proofs --------------------------------------------------------------------------------


def root(reader: NodeReader, size: int) -> bytes:
    """The root hash of the tree of the first `size` leaves."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    return _hash_ranges(reader, [(0, size)])[0]


def _path_ranges(index: int, size: int) -> list[_Range]:
    """The ranges whose MTHs make up PATH(index, D[0:size]), in RFC order (leaf level first)."""
    ranges, start, end = [], 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    return ranges[::-1]


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]): the audit path of leaf `index`."""
    if not 0 <= index < size:
        raise ValueError(f"need 0 <= index < size, got index={index} size={size}")
    return _hash_ranges(reader, _path_ranges(index, size))


def _subproof_ranges(first: int, second: int) -> list[_Range]:
    """The ranges whose MTHs make up PROOF(first, D[0:second]), in RFC order (0 < first < second)."""
    ranges, start, end, complete = [], 0, second, True
    while first != end:
        middle = start + _split(end - start)
        if first <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start, complete = middle, False
    if not complete:
        # SUBPROOF(m, D[m], false): the verifier does not know this subtree's hash yet.
        ranges.append((start, end))
    return ranges[::-1]


def consistency_proof(reader: NodeReader, first: int, second: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[0:second]); empty when first is 0 or equals second."""
    if not 0 <= first <= second:
        raise ValueError(f"need 0 <= first <= second, got first={first} second={second}")
    if first in (0, second):
        return []
    return _hash_ranges(reader, _subproof_ranges(first, second))


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2, step by step) ----------------------------------


def _check_hash_sizes(*hashes: bytes) -> None:
    for hash_ in hashes:
        if len(hash_) != HASH_SIZE:
            raise ProofError(f"a hash in the proof is {len(hash_)} bytes, not {HASH_SIZE}")


def _shift_to_set_bit(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift both until LSB(fn) is set or fn is 0 (the steps "ii." of both algorithms)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `proof` shows the leaf with `leaf_hash` at `index` in the tree with `root`."""
    _check_hash_sizes(leaf_hash, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the path to the root")
    if r != root:
        raise ProofError(f"the inclusion proof of leaf {index} leads to a different root")


def _verify_trivial_consistency(
    first: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Sizes that need no proof: a tree is consistent with itself, the empty tree with every tree."""
    if proof:
        raise ProofError(f"a consistency proof from size {first} must be empty")
    if first == 0 and first_root != EMPTY_ROOT:
        raise ProofError("the root of a tree of size 0 must be the empty-tree hash")
    if first != 0 and first_root != second_root:
        raise ProofError(f"two different roots for the same tree size {first}")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that `proof` shows the tree (first, first_root) is a prefix of (second, second_root)."""
    _check_hash_sizes(first_root, second_root, *proof)
    if not 0 <= first <= second:
        raise ProofError(f"need 0 <= first <= second, got first={first} second={second}")
    if first in (0, second):
        return _verify_trivial_consistency(first, first_root, second_root, proof)
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the path to the root")
    if fr != first_root or sr != second_root:
        raise ProofError(f"the consistency proof from size {first} to {second} leads to other roots")


# --- the growing right edge --------------------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Enough to append leaves and compute the root without reading anything else.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {max(size, 0).bit_count()} frontier hashes, got {len(hashes)}"
            )
        self._size = size
        self._hashes = list(hashes)

    @staticmethod
    def keys_for_size(size: int) -> list[NodeKey]:
        """The nodes of the frontier of a tree of `size` leaves: one per set bit, largest first."""
        if size < 0:
            raise ValueError(f"tree size must be >= 0, got {size}")
        levels = [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
        return [(level, (size >> level) - 1) for level in levels]

    @classmethod
    def from_nodes(cls, size: int, reader: NodeReader) -> Frontier:
        """Load the frontier of the stored tree of `size` leaves (one `reader.nodes()` call)."""
        keys = cls.keys_for_size(size)
        nodes = _fetch(reader, keys)
        return cls(size, [nodes[key] for key in keys])

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier hashes, largest subtree first (the nodes `keys_for_size(size)` names)."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf; returns the nodes it completed, starting with the leaf's own (0, index)."""
        level, index, hash_ = 0, self._size, leaf_hash
        completed = [((level, index), hash_)]
        while index & 1:  # a right child: its left sibling is the smallest frontier subtree
            hash_ = node_hash(self._hashes.pop(), hash_)
            level, index = level + 1, index >> 1
            completed.append(((level, index), hash_))
        self._hashes.append(hash_)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the whole tree: the frontier folded from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        hash_ = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            hash_ = node_hash(left, hash_)
        return hash_
