"""An independent audit of an aifactory ledger, written from RFC 9162 and C2SP alone.

It imports nothing from aifactory, so that a bug shared with the server cannot hide itself: the tree
hashes follow the recursive definitions of RFC 9162 §2.1 (not the bit-twiddling of the server's
verifier), and notes follow c2sp.org/signed-note and c2sp.org/tlog-checkpoint.

    python tests/external_verifier.py https://factory.example [--api-key KEY] [--vkey VKEY]

Pin `--vkey` from a source you trust: a key fetched from the server under audit proves only that the
server agrees with itself.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PAGE = 1000
EMPTY_ROOT = hashlib.sha256(b"").digest()


class VerificationError(Exception):
    """The ledger, its checkpoint or a proof failed the audit."""


class _MalformedProofError(Exception):
    """A proof has the wrong shape for the sizes it claims to be about."""


# --- RFC 9162 §2.1: the Merkle Tree Hash and what the proofs are made of ---------------------------------


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    k = _k(end - start)
    return _node_hash(_mth(hashes, start, start + k), _mth(hashes, start + k, end))


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaves' data."""
    if not leaves:
        return EMPTY_ROOT
    return _mth([_leaf_hash(leaf) for leaf in leaves], 0, len(leaves))


def _root_from_path(hash_: bytes, m: int, n: int, path: list[bytes]) -> bytes:
    """The root PATH(m, D[n]) leads to: PATH(m, D[0:k]) : MTH(D[k:n]) or PATH(m - k, D[k:n]) : MTH(D[0:k])."""
    if n == 1:
        if path:
            raise _MalformedProofError
        return hash_
    if not path:
        raise _MalformedProofError
    k, sibling = _k(n), path[-1]
    if m < k:
        return _node_hash(_root_from_path(hash_, m, k, path[:-1]), sibling)
    return _node_hash(sibling, _root_from_path(hash_, m - k, n - k, path[:-1]))


def check_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` shows the leaf data `leaf` at `index` in the tree of `size` with `root`."""
    if not 0 <= index < size:
        return False
    try:
        return _root_from_path(_leaf_hash(leaf), index, size, list(proof)) == root
    except _MalformedProofError:
        return False


def _roots_from_subproof(
    m: int, n: int, proof: list[bytes], b: bool, first_root: bytes
) -> tuple[bytes, bytes]:
    """(MTH(D[0:m]), MTH(D[0:n])) as SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1 implies them."""
    if m == n:
        if b:  # the verifier knows this subtree: it is the whole first tree
            if proof:
                raise _MalformedProofError
            return first_root, first_root
        if len(proof) != 1:
            raise _MalformedProofError
        return proof[0], proof[0]
    if not proof:
        raise _MalformedProofError
    k, sibling = _k(n), proof[-1]
    if m <= k:
        old, new = _roots_from_subproof(m, k, proof[:-1], b, first_root)
        return old, _node_hash(new, sibling)
    old, new = _roots_from_subproof(m - k, n - k, proof[:-1], False, first_root)
    return _node_hash(sibling, old), _node_hash(sibling, new)


def check_consistency(first: int, second: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` shows the tree (first, root1) is a prefix of the tree (second, root2)."""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof and root1 == EMPTY_ROOT
    if first == second:
        return not proof and root1 == root2
    try:
        return _roots_from_subproof(first, second, list(proof), True, root1) == (root1, root2)
    except _MalformedProofError:
        return False


# --- c2sp.org/signed-note and c2sp.org/tlog-checkpoint --------------------------------------------------


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise VerificationError(f"bad base64 {text!r}") from exc


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(key name, key id, public key) of a `<name>+<hex id>+<base64(0x01 || key)>` verifier key."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise VerificationError(f"not a verifier key: {vkey!r}")
    name, key_id, key = parts[0], bytes.fromhex(parts[1]), _b64(parts[2])
    if len(key) != 33 or key[0] != 1:
        raise VerificationError("the verifier key is not an Ed25519 key")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4] != key_id:
        raise VerificationError("the verifier key's id does not match its name and key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(key[1:])


def _open_note(vkey: str, note: str) -> str:
    """The text of `note` once a signature by `vkey` verifies."""
    name, key_id, key = parse_vkey(vkey)
    if any(ch < " " and ch != "\n" for ch in note):
        raise VerificationError("the note contains control characters")
    head, blank, signatures = note.rpartition("\n\n")
    if not blank or not signatures.endswith("\n"):
        raise VerificationError("the note has no signature block")
    text, verified = head + "\n", False
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise VerificationError(f"bad signature line {line!r}")
        signer, _, encoded = line[2:].partition(" ")
        blob = _b64(encoded)
        if signer != name or blob[:4] != key_id:
            continue  # another key's signature, e.g. a witness
        try:
            key.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise VerificationError(f"the signature by {name} does not verify") from exc
        verified = True
    if not verified:
        raise VerificationError(f"the note is not signed by {name}")
    return text


def verify_note(vkey: str, note: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) of a checkpoint note signed by `vkey`."""
    lines = _open_note(vkey, note).split("\n")[:-1]
    if len(lines) < 3 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise VerificationError("the note is not a checkpoint (origin, size, root)")
    root = _b64(lines[2])
    if len(root) != 32:
        raise VerificationError(f"the checkpoint root is {len(root)} bytes, not 32")
    return lines[0], int(lines[1]), root


# --- the audit over HTTP --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    """What `main` verified."""

    origin: str
    size: int
    root: bytes
    inclusion_checked: tuple[int, ...]
    consistency_checked: tuple[int, ...]


def _leaves(client: httpx.Client, size: int) -> list[bytes]:
    leaves: list[bytes] = []
    while len(leaves) < size:
        params = {"start": len(leaves), "end": min(size, len(leaves) + PAGE)}
        page = _get(client, "/v1/ledger/entries", params).json()["entries"]
        if not page:
            raise VerificationError(f"the server returned no entries from index {len(leaves)}")
        for entry in page[: size - len(leaves)]:
            if entry["index"] != len(leaves):
                raise VerificationError(f"expected entry {len(leaves)}, got {entry['index']}")
            leaves.append(_b64(entry["leaf"]))
    return leaves


def _get(client: httpx.Client, path: str, params: dict[str, int] | None = None) -> httpx.Response:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response


def _proof(client: httpx.Client, path: str, params: dict[str, int]) -> list[bytes]:
    return [_b64(h) for h in _get(client, path, params).json()["hashes"]]


def _samples(size: int, count: int, lowest: int) -> tuple[int, ...]:
    """Some positions in [lowest, size): the ends, the middle, and random ones the server can't predict."""
    if size <= lowest:
        return ()
    chosen = {lowest, max(lowest, size // 2), size - 1}
    chosen |= {lowest + secrets.randbelow(size - lowest) for _ in range(count)}
    return tuple(sorted(chosen))


def _check_proofs(
    client: httpx.Client, leaves: list[bytes], root: bytes, samples: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Fetch and check inclusion and consistency proofs at sampled positions; returns the positions."""
    size = len(leaves)
    included = _samples(size, samples, 0)
    for i in included:
        proof = _proof(client, "/v1/ledger/proofs/inclusion", {"index": i, "tree_size": size})
        if not check_inclusion(leaves[i], i, size, proof, root):
            raise VerificationError(f"the inclusion proof of entry {i} in tree size {size} fails")
    consistent = _samples(size, samples, 1)
    for first in consistent:
        proof = _proof(client, "/v1/ledger/proofs/consistency", {"first": first, "second": size})
        if not check_consistency(first, size, root_of(leaves[:first]), root, proof):
            raise VerificationError(f"the consistency proof from size {first} to {size} fails")
    return included, consistent


def main(base_url: str, api_key: str | None = None, *, vkey: str | None = None, samples: int = 3) -> Audit:
    """Audit the ledger at `base_url`: checkpoint signature, every entry against its root, some proofs."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        served = _get(client, "/v1/ledger/verifier-key").text.strip()
        if vkey is not None and served != vkey:
            raise VerificationError(f"the server's verifier key {served!r} is not the pinned one")
        origin, size, root = verify_note(vkey or served, _get(client, "/v1/ledger/checkpoint").text)
        leaves = _leaves(client, size)
        if root_of(leaves) != root:
            raise VerificationError(f"the {size} entries do not hash to the signed root")
        included, consistent = _check_proofs(client, leaves, root, samples)
    return Audit(origin, size, root, included, consistent)


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("base_url")
    parser.add_argument("--api-key", default=os.environ.get("AIFACTORY_API_KEY"))
    parser.add_argument("--vkey", help="the verifier key to trust (default: the one the server serves)")
    args = parser.parse_args()
    try:
        audit = main(args.base_url, args.api_key, vkey=args.vkey)
    except (VerificationError, httpx.HTTPError, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"OK: {audit.origin} size {audit.size} root {audit.root.hex()}")
    print(f"inclusion checked at {list(audit.inclusion_checked)}")
    print(f"consistency checked from {list(audit.consistency_checked)}")
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
