"""The independent verifier and aifactory's own tree and notes must agree, verdict for verdict.

`external_verifier` shares no code with `aifactory.ledger`, so agreement here is evidence that both
follow the standards rather than each other. `main()` runs over real HTTP against a small loopback
server that serves a ledger built with merkle.py and note.py.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import external_verifier as ev  # tests/ is on sys.path: pytest's default rootdir-relative imports
from aifactory.ledger import merkle
from aifactory.ledger.note import Checkpoint, NoteSigner, NoteVerifier

DATA = [f"entry {i}".encode() for i in range(250)]
STORE = merkle.MemoryNodes.from_leaf_hashes(merkle.leaf_hash(d) for d in DATA)


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([h[0] ^ 1]) + h[1:] if j == i else h for j, h in enumerate(proof)]


def _agrees_on_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, proof, root)
        ours = True
    except merkle.ProofError:
        ours = False
    return ours == ev.check_inclusion(leaf, index, size, proof, root)


def _agrees_on_consistency(first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    try:
        merkle.verify_consistency(first, second, r1, r2, proof)
        ours = True
    except merkle.ProofError:
        ours = False
    return ours == ev.check_consistency(first, second, r1, r2, proof)


# --- the tree ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [*range(71), 128, 129, 250])
def test_roots_agree(size: int) -> None:
    assert ev.root_of(DATA[:size]) == merkle.root(STORE, size)


def test_rfc_6962_root_vector() -> None:
    # transparency-dev/merkle testonly/constants.go, RootHashes()[8]
    short = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43"]
    leaves = [*short, bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
    assert ev.root_of(leaves).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_inclusion_proofs_agree() -> None:
    for size in range(1, 41):
        root = merkle.root(STORE, size)
        for index in range(size):
            proof = merkle.inclusion_proof(STORE, index, size)
            assert ev.check_inclusion(DATA[index], index, size, proof, root), (index, size)
            leaf = DATA[index]
            probes = [
                (leaf, index ^ 1, size, proof, root),
                (leaf + b"x", index, size, proof, root),
                (leaf, index, size + 1, proof, root),
                (leaf, index, size, proof[:-1], root),
                *((leaf, index, size, _flip(proof, i), root) for i in range(len(proof))),
            ]
            for probe in probes:
                assert _agrees_on_inclusion(*probe), probe[1:3]


def test_consistency_proofs_agree() -> None:
    for second in range(1, 41):
        r2 = merkle.root(STORE, second)
        for first in range(0, second + 1):
            r1, proof = merkle.root(STORE, first), merkle.consistency_proof(STORE, first, second)
            assert ev.check_consistency(first, second, r1, r2, proof), (first, second)
            probes = [
                (first + 1, second, r1, r2, proof),
                (first, second + 1, r1, r2, proof),
                (first, second, r2, r1, proof),
                (first, second, r1, r2, [*proof, r1]),
                (first, second, r1, r2, proof[1:]),
                *((first, second, r1, r2, _flip(proof, i)) for i in range(len(proof))),
            ]
            for probe in probes:
                assert _agrees_on_consistency(*probe), probe[:2]


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 250), seed=st.integers(0, 2**32), mutation=st.integers(0, 5))
def test_property_verdicts_agree(size: int, seed: int, mutation: int) -> None:
    rng = random.Random(seed)
    index, first = rng.randrange(size), rng.randint(0, size)
    root, r1 = merkle.root(STORE, size), merkle.root(STORE, first)
    path, proof = merkle.inclusion_proof(STORE, index, size), merkle.consistency_proof(STORE, first, size)
    if mutation == 1 and path:
        path = _flip(path, rng.randrange(len(path)))
    if mutation == 2 and proof:
        proof = _flip(proof, rng.randrange(len(proof)))
    if mutation == 3:
        index, first = rng.randrange(size), rng.randint(0, size)
    if mutation == 4:
        path, proof = path[:-1], proof[1:]
    if mutation == 5:
        size = rng.randint(1, 260)
    assert _agrees_on_inclusion(DATA[index % len(DATA)], index, size, path, root)
    assert _agrees_on_consistency(first, size, r1, root, proof)


# --- notes -------------------------------------------------------------------------------------------------


def _checkpoint_note(signer: NoteSigner, size: int) -> str:
    return signer.sign(Checkpoint("example.com/log", size, merkle.root(STORE, size)).body())


def test_verify_note_reads_our_checkpoints() -> None:
    signer = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    name, key_id, _ = ev.parse_vkey(signer.verifier_key())
    assert (name, key_id) == (signer.name, signer.key_id)
    note = _checkpoint_note(signer, 77)
    assert ev.verify_note(signer.verifier_key(), note) == ("example.com/log", 77, merkle.root(STORE, 77))
    body = NoteVerifier.from_verifier_key(signer.verifier_key()).verify(note)
    witness = NoteSigner("witness.example", Ed25519PrivateKey.generate()).sign(body)
    cosigned = note + witness.split("\n\n")[-1]
    assert ev.verify_note(signer.verifier_key(), cosigned)[1] == 77
    assert (
        NoteVerifier.from_verifier_key(signer.verifier_key()).verify(cosigned) == note.split("\n\n")[0] + "\n"
    )


def test_verify_note_refuses_what_note_py_refuses() -> None:
    signer = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    other = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    note = _checkpoint_note(signer, 5)
    for bad in [note.replace("\n5\n", "\n6\n"), _checkpoint_note(other, 5), note.replace("—", "-")]:
        with pytest.raises(ev.VerificationError):
            ev.verify_note(signer.verifier_key(), bad)
    with pytest.raises(ev.VerificationError):
        ev.parse_vkey(signer.verifier_key().replace(signer.key_id.hex(), other.key_id.hex()))


# --- main() over loopback HTTP -----------------------------------------------------------------------------


@dataclass
class FakeLedger:
    """What the loopback server serves; tests change it to play a misbehaving log."""

    signer: NoteSigner
    leaves: list[bytes]
    api_key: str = "test-key"
    corrupt_proofs: bool = False
    note: str = field(init=False)

    def __post_init__(self) -> None:
        self.note = _checkpoint_note(self.signer, len(self.leaves))

    def answer(self, path: str, query: dict[str, int]) -> Any:
        if path == "/v1/ledger/verifier-key":
            return self.signer.verifier_key() + "\n"
        if path == "/v1/ledger/checkpoint":
            return self.note
        if path == "/v1/ledger/entries":
            end = min(query["end"], len(self.leaves), query["start"] + 100)  # pages smaller than asked
            indices = range(query["start"], end)
            return {"entries": [{"index": i, "leaf": self._leaf(i), "event": {}} for i in indices]}
        if path == "/v1/ledger/proofs/inclusion":
            proof = merkle.inclusion_proof(STORE, query["index"], query["tree_size"])
        else:
            proof = merkle.consistency_proof(STORE, query["first"], query["second"])
        if self.corrupt_proofs and proof:
            proof = _flip(proof, 0)
        return {"hashes": [base64.b64encode(h).decode() for h in proof]}

    def _leaf(self, index: int) -> str:
        return base64.b64encode(self.leaves[index]).decode()


def _handler(ledger: FakeLedger) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if self.headers.get("Authorization") != f"Bearer {ledger.api_key}":
                return self._send(401, "text/plain", b"unauthorized")
            answer = ledger.answer(url.path, {k: int(v[0]) for k, v in parse_qs(url.query).items()})
            if isinstance(answer, str):
                return self._send(200, "text/plain; charset=utf-8", answer.encode())
            return self._send(200, "application/json", json.dumps(answer).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def ledger() -> Iterator[tuple[FakeLedger, str]]:
    fake = FakeLedger(NoteSigner("example.com/log", Ed25519PrivateKey.generate()), list(DATA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_main_audits_a_good_ledger(ledger: tuple[FakeLedger, str]) -> None:
    fake, url = ledger
    audit = ev.main(url, fake.api_key, vkey=fake.signer.verifier_key())
    assert (audit.origin, audit.size, audit.root) == ("example.com/log", 250, merkle.root(STORE, 250))
    assert {0, 125, 249} <= set(audit.inclusion_checked)
    assert {1, 125, 249} <= set(audit.consistency_checked)


def test_main_catches_a_modified_entry(ledger: tuple[FakeLedger, str]) -> None:
    fake, url = ledger
    fake.leaves[100] = b"entry 100, rewritten"
    with pytest.raises(ev.VerificationError, match="do not hash to the signed root"):
        ev.main(url, fake.api_key)


def test_main_catches_bad_proofs(ledger: tuple[FakeLedger, str]) -> None:
    fake, url = ledger
    fake.corrupt_proofs = True
    with pytest.raises(ev.VerificationError, match="inclusion proof"):
        ev.main(url, fake.api_key)


def test_main_catches_a_swapped_key(ledger: tuple[FakeLedger, str]) -> None:
    fake, url = ledger
    pinned = fake.signer.verifier_key()
    fake.signer = NoteSigner("example.com/log", Ed25519PrivateKey.generate())
    fake.note = _checkpoint_note(fake.signer, len(fake.leaves))
    with pytest.raises(ev.VerificationError, match="not the pinned one"):
        ev.main(url, fake.api_key, vkey=pinned)


def test_main_sends_the_api_key(ledger: tuple[FakeLedger, str]) -> None:
    _, url = ledger
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        ev.main(url, "wrong-key")


def test_main_audits_an_empty_ledger(ledger: tuple[FakeLedger, str]) -> None:
    fake, url = ledger
    fake.leaves = []
    fake.note = _checkpoint_note(fake.signer, 0)
    audit = ev.main(url, fake.api_key)
    assert (audit.size, audit.root, audit.inclusion_checked) == (0, merkle.EMPTY_ROOT, ())
