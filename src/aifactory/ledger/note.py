"""C2SP signed notes (Ed25519) and tlog checkpoints, plus the signing key file.

Formats, from https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint:

    <origin>                      the body (the signed text): lines, each ending in a newline
    <tree size, decimal>
    <base64 root hash>
                                  a blank line
    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>

    key id       = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    verifier key = <key name>+<8 hex digits of key id>+<base64(0x01 || public key)>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aifactory.keyfiles import create_key_file

__all__ = [
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "load_or_create_signing_key",
    "load_signing_key",
]

_ED25519 = b"\x01"  # the signed-note signature type of Ed25519
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100  # the spec asks verifiers for a limit of at least 16
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A signed note, verifier key or checkpoint is malformed or does not verify."""


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(char.isspace() for char in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def _check_text(text: str, what: str) -> None:
    """Notes are UTF-8 with no ASCII control characters other than newline."""
    if any(char < " " and char != "\n" for char in text):
        raise NoteError(f"{what} contains an ASCII control character other than newline")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8 (it holds a lone surrogate)") from None


def _b64decode(text: str, what: str) -> bytes:
    """Strict base64: a re-encoding must give `text` back, so that no two texts carry one value."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(decoded).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return decoded


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class NoteSigner:
    """Signs note bodies with one named Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.public_key = _public_bytes(private_key.public_key())
        self.key_id = _key_id(name, self.public_key)

    def verifier_key(self) -> str:
        """The key others verify with: `<name>+<hex key id>+<base64(0x01 || public key)>`."""
        encoded = base64.b64encode(_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def sign(self, body: str) -> str:
        """The signed note: `body` (non-empty, ending in a newline), a blank line, our signature."""
        if not body.endswith("\n"):
            raise NoteError("a note body must be non-empty and end in a newline")
        _check_text(body, "the note body")
        signature = self._private_key.sign(body.encode())
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{body}\n{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    """(key name, key id || signature) of one signature line."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError(f"malformed note: signature line {line!r} does not start with an em dash")
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    _check_key_name(name)
    blob = _b64decode(encoded, f"the signature by {name}")
    if len(blob) < 5:
        raise NoteError(f"malformed note: the signature by {name} is too short")
    return name, blob


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The body and the signatures of a note; the last blank line separates them."""
    _check_text(note, "the note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("malformed note: no blank line between the body and the signatures")
    body, signatures = note[: cut + 1], note[cut + 2 :]
    if not signatures.endswith("\n"):
        raise NoteError("malformed note: no signature lines, or the last one lacks its newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"the note has {len(lines)} signatures; at most {_MAX_SIGNATURES} are accepted")
    return body, [_parse_signature_line(line) for line in lines]


class NoteVerifier:
    """Verifies notes signed by one named Ed25519 key, ignoring signatures by other keys."""

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        _check_key_name(name)
        self.name = name
        self._public_key = public_key
        self.key_id = _key_id(name, _public_bytes(public_key))

    @classmethod
    def from_verifier_key(cls, vkey: str) -> NoteVerifier:
        """The verifier for a `<name>+<hex key id>+<base64(0x01 || public key)>` key string."""
        name, _, rest = vkey.partition("+")
        id_hex, plus, encoded = rest.partition("+")
        if not plus:
            raise NoteError("verifier key: expected <name>+<hex key id>+<base64 key>")
        _check_key_name(name)
        if not _KEY_ID.fullmatch(id_hex):
            raise NoteError(f"verifier key: the key id {id_hex!r} is not 8 hex digits")
        key = _b64decode(encoded, "verifier key: the public key")
        if key[:1] != _ED25519 or len(key) != 33:
            raise NoteError("verifier key: not an Ed25519 key (type 0x01 and 32 bytes)")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(key[1:]))
        if verifier.key_id != bytes.fromhex(id_hex):
            raise NoteError(f"verifier key: the key id {id_hex} does not match the name and key")
        return verifier

    def verify(self, note: str) -> str:
        """The body of `note`, if it holds a valid signature by this key (and no invalid one)."""
        body, signatures = _split_note(note)
        ours = [blob[4:] for name, blob in signatures if name == self.name and blob[:4] == self.key_id]
        if not ours:
            raise NoteError(f"the note has no signature by {self.name}+{self.key_id.hex()}")
        for signature in ours:
            try:
                self._public_key.verify(signature, body.encode())
            except InvalidSignature:
                raise NoteError(f"the signature by {self.name} does not verify") from None
        return body


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint: the signed statement of a log's origin, tree size and root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in [("origin", self.origin), *(("extension line", ext) for ext in self.extensions)]:
            if not line or "\n" in line:
                raise NoteError(f"checkpoint: the {what} {line!r} must be one non-empty line")
            _check_text(line, f"checkpoint: the {what}")
        if not 0 <= self.size < 2**64:
            raise NoteError(f"checkpoint: tree size {self.size} is out of range")
        if len(self.root) != 32:
            raise NoteError(f"checkpoint: the root hash is {len(self.root)} bytes, not 32")

    def body(self) -> str:
        """The note body: origin, decimal size, base64 root, extension lines; each ends in newline."""
        root = base64.b64encode(self.root).decode()
        return "".join(f"{line}\n" for line in [self.origin, str(self.size), root, *self.extensions])

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """The checkpoint a (verified) note body states."""
        lines = body[:-1].split("\n") if body.endswith("\n") else []
        if len(lines) < 3:
            raise NoteError("checkpoint: need origin, size and root lines, each ending in a newline")
        origin, size, root, *extensions = lines
        if not _TREE_SIZE.fullmatch(size):
            raise NoteError(f"checkpoint: tree size {size!r} is not a decimal without leading zeros")
        return cls(origin, int(size), _b64decode(root, "checkpoint: the root hash"), tuple(extensions))


# --- the signing key file ----------------------------------------------------------------------------


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise ValueError(
            f"the ledger signing key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The ledger's Ed25519 signing key, from an unencrypted PEM PKCS#8 file only we can read."""
    if not path.exists():
        raise FileNotFoundError(f"no ledger signing key at {path}; run `aifactory init` to create one")
    _check_private(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def _write_new_key(path: Path) -> None:
    """Create the key file with mode 0600, whole or not at all, unless another process won the race."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    create_key_file(path, pem)


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path`, created (mode 0600) first if there is none."""
    if not path.exists():
        _write_new_key(path)
    return load_signing_key(path)
