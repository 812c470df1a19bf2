"""The RFC 9162 tree against a naive reference written from the RFC's definitions, and known vectors."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifactory.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryNodes,
    NodeKey,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_hash,
    subtree_keys,
    verify_consistency,
    verify_inclusion,
)

# --- the reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed, recursion over lists -------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return _sha(b"")
    if len(d) == 1:
        return _sha(b"\x00" + d[0])
    k = _k(len(d))
    return _sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- fixtures ------------------------------------------------------------------------------------------

DATA = [f"leaf {i}".encode() for i in range(300)]
STORE = MemoryNodes.from_leaf_hashes(leaf_hash(d) for d in DATA)


class CountingReader:
    """Wraps a reader to count `nodes()` calls: every operation must make exactly one."""

    def __init__(self, inner: MemoryNodes) -> None:
        self.inner = inner
        self.calls = 0

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls += 1
        return self.inner.nodes(keys)


# RFC 6962 test vectors as published by transparency-dev/merkle (testonly/constants.go,
# proof/verify_test.go; the same values as certificate-transparency-go and Trillian). Indices below
# are 0-based; the Go inclusion vectors are 1-based.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
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
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_STORE = MemoryNodes.from_leaf_hashes(leaf_hash(d) for d in CT_LEAVES)


# --- known vectors -------------------------------------------------------------------------------------


def test_hashes_are_the_rfc_ones() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert leaf_hash(b"").hex() == CT_ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == CT_ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_ct_roots(size: int) -> None:
    assert root(CT_STORE, size).hex() == CT_ROOTS[size]
    assert ref_mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_ct_inclusion(index: int, size: int, proof: list[str]) -> None:
    assert [h.hex() for h in inclusion_proof(CT_STORE, index, size)] == proof
    verify_inclusion(
        leaf_hash(CT_LEAVES[index]),
        index,
        size,
        [bytes.fromhex(h) for h in proof],
        bytes.fromhex(CT_ROOTS[size]),
    )


@pytest.mark.parametrize(("first", "second", "proof"), CT_CONSISTENCY)
def test_ct_consistency(first: int, second: int, proof: list[str]) -> None:
    assert [h.hex() for h in consistency_proof(CT_STORE, first, second)] == proof
    roots = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    verify_consistency(first, second, *roots, [bytes.fromhex(h) for h in proof])


# --- roots, subtrees and the frontier against the reference ------------------------------------------


@pytest.mark.parametrize("size", [*range(71), *random.Random(6962).sample(range(71, 301), 10)])
def test_root_matches_reference(size: int) -> None:
    reader = CountingReader(STORE)
    assert root(reader, size) == ref_mth(DATA[:size])
    assert reader.calls == (1 if size else 0)


def test_every_stored_node_is_its_subtree_hash() -> None:
    for (level, index), hash_ in STORE.nodes([(lv, i) for lv in range(9) for i in range(300)]).items():
        assert hash_ == ref_mth(DATA[index << level : (index + 1) << level]), (level, index)
    assert len(STORE.nodes([(0, i) for i in range(301)])) == 300


def test_subtree_keys_split_as_rfc_9162() -> None:
    assert subtree_keys(0, 0) == []
    assert subtree_keys(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert subtree_keys(8, 13) == [(2, 2), (0, 12)]
    assert subtree_keys(1, 5) == [(0, 1), (0, 2), (0, 3), (0, 4)]
    with pytest.raises(ValueError, match="start <= end"):
        subtree_keys(5, 4)


def test_subtree_hash_of_every_range() -> None:
    for start in range(40):
        for end in range(start, 41):
            nodes = STORE.nodes(subtree_keys(start, end))
            assert subtree_hash(start, end, nodes) == ref_mth(DATA[start:end]), (start, end)


def test_frontier_grows_like_the_reference() -> None:
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT
    for size, data in enumerate(DATA[:130], start=1):
        completed = frontier.append(leaf_hash(data))
        assert completed[0] == ((0, size - 1), leaf_hash(data))
        assert [key for key, _ in completed] == [(lv, (size >> lv) - 1) for lv in range(len(completed))]
        assert frontier.size == size
        assert frontier.root() == ref_mth(DATA[:size])
        assert [key for key, _ in completed][-1] == Frontier.keys_for_size(size)[-1]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 13, 64, 255, 300])
def test_frontier_loads_from_nodes_in_one_call(size: int) -> None:
    reader = CountingReader(STORE)
    frontier = Frontier.from_nodes(size, reader)
    assert reader.calls == (1 if size else 0)
    assert frontier.size == size
    assert frontier.root() == ref_mth(DATA[:size])
    assert len(frontier.hashes) == size.bit_count()


def test_frontier_keys_and_bad_input() -> None:
    assert Frontier.keys_for_size(0) == []
    assert Frontier.keys_for_size(13) == [(3, 0), (2, 2), (0, 12)]
    assert Frontier.keys_for_size(13) == subtree_keys(0, 13)
    with pytest.raises(ValueError, match="frontier hashes"):
        Frontier(3, [EMPTY_ROOT])
    with pytest.raises(LookupError, match="lacks"):
        Frontier.from_nodes(301, STORE)


# --- proofs against the reference --------------------------------------------------------------------


def test_inclusion_proofs_for_every_index_and_size() -> None:
    for size in range(1, 65):
        tree_root = ref_mth(DATA[:size])
        for index in range(size):
            reader = CountingReader(STORE)
            proof = inclusion_proof(reader, index, size)
            assert reader.calls == (1 if size > 1 else 0)
            assert proof == ref_path(index, DATA[:size]), (index, size)
            verify_inclusion(leaf_hash(DATA[index]), index, size, proof, tree_root)


def test_consistency_proofs_for_every_pair() -> None:
    for second in range(1, 65):
        second_root = ref_mth(DATA[:second])
        for first in range(1, second + 1):
            reader = CountingReader(STORE)
            proof = consistency_proof(reader, first, second)
            assert reader.calls == (1 if first < second else 0)
            assert proof == ref_subproof(first, DATA[:second], True), (first, second)
            verify_consistency(first, second, ref_mth(DATA[:first]), second_root, proof)


def test_out_of_range_arguments() -> None:
    with pytest.raises(ValueError, match="index < size"):
        inclusion_proof(STORE, 5, 5)
    with pytest.raises(ValueError, match="index < size"):
        inclusion_proof(STORE, -1, 5)
    with pytest.raises(ValueError, match="first <= second"):
        consistency_proof(STORE, 6, 5)
    with pytest.raises(ValueError, match=">= 0"):
        root(STORE, -1)
    assert consistency_proof(STORE, 0, 9) == []
    assert consistency_proof(STORE, 9, 9) == []
    with pytest.raises(LookupError, match="lacks"):
        inclusion_proof(STORE, 0, 301)


# --- verification refuses what it should ---------------------------------------------------------------

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flipped(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([h[0] ^ 8]) + h[1:] if j == i else h for j, h in enumerate(proof)]


_Probe = tuple[bytes, int, int, list[bytes], bytes]


def _inclusion_probes(index: int, size: int, proof: list[bytes], root_: bytes) -> list[_Probe]:
    leaf = leaf_hash(DATA[index])
    probes: list[_Probe] = [
        (leaf, index + 1, size, proof, root_),
        (leaf, index ^ 2, size, proof, root_),
        (leaf, index, size * 2, proof, root_),
        (leaf, index, size // 2, proof, root_),
        (SOME_HASH, index, size, proof, root_),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, root_], root_),
        (leaf, index, size, [root_, *proof], root_),
    ]
    if index > 0:
        probes.append((leaf, index - 1, size, proof, root_))
    if proof:
        probes.append((leaf, index, size, proof[:-1], root_))
    probes += [(leaf, index, size, _flipped(proof, i), root_) for i in range(len(proof))]
    return [p for p in probes if p[1:3] != (index, size) or p[0] != leaf or p[3:] != (proof, root_)]


def test_inclusion_verification_refuses_corruptions() -> None:
    for size in range(1, 33):
        tree_root = ref_mth(DATA[:size])
        for index in range(size):
            proof = ref_path(index, DATA[:size])
            for probe in _inclusion_probes(index, size, proof, tree_root):
                with pytest.raises(ProofError):
                    verify_inclusion(*probe)


def test_consistency_verification_refuses_corruptions() -> None:
    # The probes of transparency-dev/merkle. Not `second - 1`: the RFC algorithm binds roots, not
    # sizes, so the proof for (1, 4) also passes as (1, 3) against the same root (read as a tree whose
    # third leaf hash is H(l2, l3)). Sizes must come from signed checkpoints.
    for second in range(2, 33):
        r2 = ref_mth(DATA[:second])
        for first in range(1, second):
            r1, proof = ref_mth(DATA[:first]), ref_subproof(first, DATA[:second], True)
            probes = [
                (first - 1, second, r1, r2, proof),
                (first + 1, second, r1, r2, proof),
                (first, second * 2, r1, r2, proof),
                (first, second // 2, r1, r2, proof),
                (first ^ 2, second, r1, r2, proof),
                (first, second, SOME_HASH, r2, proof),
                (first, second, r1, SOME_HASH, proof),
                (first, second, r2, r1, proof),
                (first, second, r1, r2, []),
                (first, second, r1, r2, [*proof, r1]),
                (first, second, r1, r2, [r2, *proof]),
                (first, second, r1, r2, proof[:-1]),
                *((first, second, r1, r2, _flipped(proof, i)) for i in range(len(proof))),
            ]
            for probe in probes:
                with pytest.raises(ProofError):
                    verify_consistency(*probe)


def test_trivial_consistency() -> None:
    r5 = ref_mth(DATA[:5])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    verify_consistency(5, 5, r5, r5, [])
    for probe in [
        (5, 5, r5, SOME_HASH, []),
        (5, 5, r5, r5, [r5]),
        (0, 5, SOME_HASH, r5, []),
        (0, 5, EMPTY_ROOT, r5, [r5]),
        (5, 4, r5, r5, []),
    ]:
        with pytest.raises(ProofError):
            verify_consistency(*probe)


def test_wrong_hash_sizes_are_refused() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    with pytest.raises(ProofError, match="bytes"):
        verify_inclusion(b"", 0, 1, [], b"")
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(leaf, 0, 0, [], leaf)


# --- properties ------------------------------------------------------------------------------------------

_leaves = st.lists(st.binary(max_size=20), min_size=1, max_size=200)


@settings(max_examples=150, deadline=None)
@given(data=_leaves, seed=st.integers(0, 2**32))
def test_property_inclusion(data: list[bytes], seed: int) -> None:
    store = MemoryNodes.from_leaf_hashes(leaf_hash(d) for d in data)
    index = random.Random(seed).randrange(len(data))
    proof = inclusion_proof(store, index, len(data))
    assert proof == ref_path(index, data)
    verify_inclusion(leaf_hash(data[index]), index, len(data), proof, root(store, len(data)))


@settings(max_examples=150, deadline=None)
@given(data=_leaves, seed=st.integers(0, 2**32))
def test_property_consistency(data: list[bytes], seed: int) -> None:
    store = MemoryNodes.from_leaf_hashes(leaf_hash(d) for d in data)
    first = random.Random(seed).randint(0, len(data))
    proof = consistency_proof(store, first, len(data))
    assert proof == ([] if first == 0 else ref_subproof(first, data, True))
    verify_consistency(first, len(data), root(store, first), ref_mth(data), proof)


@settings(max_examples=100, deadline=None)
@given(data=_leaves, flip=st.integers(0, 2**16))
def test_property_a_changed_leaf_changes_the_root_and_fails_its_proof(data: list[bytes], flip: int) -> None:
    store = MemoryNodes.from_leaf_hashes(leaf_hash(d) for d in data)
    index = flip % len(data)
    changed = [*data[:index], data[index] + b"!", *data[index + 1 :]]
    assert ref_mth(changed) != root(store, len(data))
    proof = inclusion_proof(store, index, len(data))
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(changed[index]), index, len(data), proof, root(store, len(data)))
