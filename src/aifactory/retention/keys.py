"""The instance's payload master key, and what is derived from it: the key-encryption key that wraps
every data key, and the secret that pseudonymises data subjects.

The master key is 32 random bytes, base64 on one line, in a file only the server may read
(`payload.key` in the data dir, created by `aifactory init`, mode 0600). Replicas share it, as they
share `ledger.key`. HKDF with distinct labels keeps the two uses apart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aifactory.errors import ConfigurationError
from aifactory.keyfiles import create_key_file

__all__ = ["KEY_BYTES", "NONCE_BYTES", "PayloadKeys", "load_master_key", "load_or_create_master_key"]

KEY_BYTES = 32
"""AES-256 keys, and the master key, are 32 bytes."""

NONCE_BYTES = 12
"""AES-GCM's standard nonce size (random per encryption)."""

_WRAP_LABEL = b"aifactory payload key wrap v1"
_SUBJECT_LABEL = b"aifactory subject pseudonym v1"


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label).derive(master)


class PayloadKeys:
    """Wraps and unwraps data keys, and hashes subject ids, with keys derived from the master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise ConfigurationError(f"the payload master key must be {KEY_BYTES} bytes, not {len(master)}")
        self._wrap = AESGCM(_derive(master, _WRAP_LABEL))
        self.subject_secret = _derive(master, _SUBJECT_LABEL)
        """The HMAC key of subject pseudonyms (`aifactory.gateway.runs.subject_hash`)."""

    def subject_hash(self, subject: str) -> str:
        """The keyed pseudonym of a data subject id (HMAC-SHA-256, hex): without the instance's key
        it cannot be recomputed from a guessed id, as a plain hash of an email address could."""
        return hmac.new(self.subject_secret, subject.encode(), hashlib.sha256).hexdigest()

    def new_data_key(self) -> bytes:
        """A fresh random AES-256 data key."""
        return AESGCM.generate_key(bit_length=KEY_BYTES * 8)

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        """The data key encrypted under the key-encryption key, bound to its row id."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrap.encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """The data key back; a wrong master key or a tampered row is a configuration error."""
        try:
            return self._wrap.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise ConfigurationError(
                f"data key {key_id} does not decrypt with this payload master key: "
                "is `payload.key` (or AIFACTORY_PAYLOAD_KEY_FILE) the one this database was written with?"
            ) from None


def load_master_key(path: Path) -> bytes:
    """The master key at `path`; refused when missing, malformed or readable by others."""
    if not path.exists():
        raise ConfigurationError(f"no payload master key at {path}; run `aifactory init` to create one")
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise ConfigurationError(
            f"the payload master key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    try:
        key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConfigurationError(f"{path} does not hold a base64 payload master key") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{path} holds {len(key)} bytes; a payload master key is {KEY_BYTES}")
    return key


def load_or_create_master_key(path: Path) -> bytes:
    """The master key at `path`, created first (mode 0600, whole or not at all) if there is none."""
    if not path.exists():
        _write_new_key(path)
    return load_master_key(path)


def _write_new_key(path: Path) -> None:
    create_key_file(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
