"""C2SP signed notes and tlog checkpoints, checked against the Go reference vector and the spec."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aifactory.ledger.note import (
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    load_or_create_signing_key,
    load_signing_key,
)

# The example of golang.org/x/mod/sumdb/note (note.go, note_test.go): a second implementation to agree
# with. Ed25519 signing is deterministic, so signing the same text must give the same bytes.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = f"{GO_TEXT}\n— PeterNeumann {GO_SIGNATURE}\n"


def go_signer() -> NoteSigner:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[0] == 1
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


def new_signer(name: str = "example.com/log") -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.generate())


# --- the Go vector -------------------------------------------------------------------------------------


def test_go_vector_sign_and_verify() -> None:
    signer = go_signer()
    assert signer.verifier_key() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert NoteVerifier.from_verifier_key(GO_VKEY).verify(GO_NOTE) == GO_TEXT


def test_verifier_key_format_per_spec() -> None:
    signer = new_signer("example.com/behind-the-sofa")
    public = signer.public_key
    # key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], computed here.
    key_id = hashlib.sha256(b"example.com/behind-the-sofa\n\x01" + public).digest()[:4]
    assert signer.key_id == key_id
    encoded = base64.b64encode(b"\x01" + public).decode()
    expected = f"example.com/behind-the-sofa+{key_id.hex()}+{encoded}"
    assert signer.verifier_key() == expected
    verifier = NoteVerifier.from_verifier_key(expected)
    assert (verifier.name, verifier.key_id) == ("example.com/behind-the-sofa", key_id)


# --- signing and verifying -------------------------------------------------------------------------------


def test_round_trip_and_layout() -> None:
    signer = new_signer()
    body = "line one\n\nline three after an empty line\n"
    note = signer.sign(body)
    assert note.startswith(body + "\n— example.com/log ")
    blob = base64.b64decode(note.rsplit(" ", 1)[1])
    assert blob[:4] == signer.key_id
    assert len(blob) == 4 + 64
    assert NoteVerifier.from_verifier_key(signer.verifier_key()).verify(note) == body


def test_tampering_with_any_character_fails() -> None:
    signer = new_signer()
    verifier = NoteVerifier.from_verifier_key(signer.verifier_key())
    note = signer.sign("example.com/log\n42\n" + base64.b64encode(bytes(32)).decode() + "\n")
    for i, char in enumerate(note):
        for replacement in {chr(ord(char) ^ 1), chr(ord(char) ^ 32), "A"} - {char}:
            with pytest.raises(NoteError):
                verifier.verify(note[:i] + replacement + note[i + 1 :])


def test_other_signatures_are_ignored() -> None:
    ours, theirs = new_signer(), new_signer("witness.example/w1")
    body = "example.com/log\n1\n" + base64.b64encode(bytes(32)).decode() + "\n"
    our_line = ours.sign(body)[len(body) + 1 :]
    their_line = theirs.sign(body)[len(body) + 1 :]
    verifier = NoteVerifier.from_verifier_key(ours.verifier_key())
    assert verifier.verify(f"{body}\n{our_line}{their_line}") == body
    assert verifier.verify(f"{body}\n{their_line}{our_line}") == body
    # Same name, another key: a different key id, so it is not ours and is ignored too.
    impostor_line = new_signer().sign(body)[len(body) + 1 :]
    assert verifier.verify(f"{body}\n{impostor_line}{our_line}") == body


def test_a_verifier_for_another_key_refuses() -> None:
    note = new_signer().sign("hello\n")
    with pytest.raises(NoteError, match=r"no signature by example\.com/log"):
        NoteVerifier.from_verifier_key(new_signer().verifier_key()).verify(note)
    with pytest.raises(NoteError, match="no signature by other"):
        NoteVerifier.from_verifier_key(new_signer("other").verifier_key()).verify(note)


def test_a_bad_signature_by_our_key_rejects_the_note() -> None:
    signer = new_signer()
    good = signer.sign("hello\n")
    forged = signer.sign("bye\n")[len("bye\n") + 1 :]
    with pytest.raises(NoteError, match="does not verify"):
        NoteVerifier.from_verifier_key(signer.verifier_key()).verify(good + forged)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("hello\n— example.com/log AAAA\n", "no blank line"),
        ("hello\n\n", "no signature lines"),
        ("hello\n\n- example.com/log AAAAAAA=\n", "em dash"),
        ("hello\n\n— example.com/log AAAA\n", "too short"),
        ("hello\n\n— example.com/log not*base64\n", "base64"),
        ("hello\n\n— example.com/log AAAAAAB=\n", "canonical"),
        ("hel\tlo\n\n— example.com/log AAAAAAA=\n", "control character"),
        ("hello\n\n— example.com/log AAAAAAA=", "lacks its newline"),
        ("hello\n\n" + "— example.com/log AAAAAAA=\n" * 101, "at most 100"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        NoteVerifier.from_verifier_key(new_signer().verifier_key()).verify(note)


def test_signing_refuses_bad_bodies_and_names() -> None:
    signer = new_signer()
    for body in ["", "no final newline", "bell\a\n"]:
        with pytest.raises(NoteError):
            signer.sign(body)
    for name in ["", "has space", "has+plus", "tab\there", "nbsp\u00a0"]:
        with pytest.raises(NoteError, match="key name"):
            new_signer(name)


def _vkey_variants() -> list[tuple[str, str]]:
    vkey = go_signer().verifier_key()
    name, key_id, key = vkey.split("+", 2)
    raw = base64.b64decode(key)
    wrong_type = base64.b64encode(b"\x02" + raw[1:]).decode()
    return [
        (f"{name}+{key_id}", "<name>"),
        (f"{name}+{key_id[:7]}+{key}", "8 hex digits"),
        (f"{name}+{'0' * 8}+{key}", "does not match"),
        (f"other+{key_id}+{key}", "does not match"),
        (f"{name}+{key_id}+{wrong_type}", "not an Ed25519 key"),
        (f"{name}+{key_id}+{base64.b64encode(raw + b'x').decode()}", "not an Ed25519 key"),
        (f"{name}+{key_id}+{key}=", "base64"),
        (f"Peter Neumann+{key_id}+{key}", "key name"),
        (f"+{key_id}+{key}", "key name"),
    ]


@pytest.mark.parametrize(("vkey", "message"), _vkey_variants())
def test_malformed_verifier_keys(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        NoteVerifier.from_verifier_key(vkey)


# --- checkpoints -----------------------------------------------------------------------------------------

SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_checkpoint_body_layout() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)  # the example of c2sp.org/tlog-checkpoint
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.body() == SPEC_BODY
    empty = Checkpoint("log", 0, bytes(32), ("ext one", "ext two"))
    assert empty.body() == f"log\n0\n{base64.b64encode(bytes(32)).decode()}\next one\next two\n"
    assert Checkpoint.parse(empty.body()) == empty


def test_signed_checkpoint_round_trip() -> None:
    signer = new_signer()
    checkpoint = Checkpoint("example.com/log", 7, hashlib.sha256(b"x").digest())
    note = signer.sign(checkpoint.body())
    body = NoteVerifier.from_verifier_key(signer.verifier_key()).verify(note)
    assert Checkpoint.parse(body) == checkpoint


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("012", "leading zeros"),
        ("-1", "decimal"),
        ("+1", "decimal"),
        (" 1", "decimal"),
        ("\u0661", "decimal"),
        ("1e3", "decimal"),
        ("", "decimal"),
        ("18446744073709551616", "range"),
    ],
)
def test_checkpoint_refuses_bad_sizes(size: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        Checkpoint.parse(SPEC_BODY.replace("20852163", size))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (SPEC_BODY[:-1], "origin, size and root"),
        ("example.com/log\n1\n", "origin, size and root"),
        (SPEC_BODY.replace("CsUY", "Cs*Y"), "not valid base64"),
        (SPEC_BODY.replace("q2I=", "q2J="), "canonical"),
        (SPEC_BODY.replace("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "AAAA"), "3 bytes, not 32"),
        ("\n1\n" + SPEC_BODY.split("\n")[2] + "\n", "origin"),
        (SPEC_BODY + "\n", "extension line"),
    ],
)
def test_checkpoint_refuses_malformed_bodies(body: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        Checkpoint.parse(body)


def test_checkpoint_refuses_bad_fields() -> None:
    with pytest.raises(NoteError, match="one non-empty line"):
        Checkpoint("two\nlines", 1, bytes(32))
    with pytest.raises(NoteError, match="out of range"):
        Checkpoint("log", -1, bytes(32))
    with pytest.raises(NoteError, match="31 bytes"):
        Checkpoint("log", 1, bytes(31))


# --- the key file -----------------------------------------------------------------------------------------


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "ledger.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _raw_public(load_or_create_signing_key(path)) == _raw_public(key)
    assert _raw_public(load_signing_key(path)) == _raw_public(key)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger.pem"]


def test_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "ledger.pem"
    keys: list[bytes] = []

    def create() -> None:
        keys.append(_raw_public(load_or_create_signing_key(path)))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8
    assert set(keys) == {_raw_public(load_signing_key(path))}
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.pem"]


def test_missing_key_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="aifactory init"):
        load_signing_key(tmp_path / "absent.pem")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_loose_permissions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.pem"
    load_or_create_signing_key(path)
    path.chmod(0o644)
    with pytest.raises(ValueError, match=f"chmod 600 {path}"):
        load_or_create_signing_key(path)


def _write_private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_other_key_files_are_refused(tmp_path: Path) -> None:
    ec = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        load_signing_key(_write_private(tmp_path / "ec.pem", ec))
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_signing_key(_write_private(tmp_path / "enc.pem", encrypted))
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_signing_key(_write_private(tmp_path / "junk.pem", b"junk"))
