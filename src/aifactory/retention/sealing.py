"""Sealing one run's payload: AES-256-GCM under its data key, and the salted commitment the ledger
keeps in its place.

    plaintext  = salt (32 random bytes) || RFC 8785 canonical JSON of the payload
    ciphertext = AES-256-GCM(data key, random 12-byte nonce, plaintext, aad = run id)
    commitment = SHA-256(salt || canonical JSON), hex

The salt travels inside the ciphertext, so it is destroyed with it: once a payload is purged or its
key destroyed, nobody can test guesses of a low-entropy payload (a yes/no answer, a birth date)
against the commitment in the ledger leaf.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aifactory.ledger.events import canonical_json
from aifactory.retention.keys import NONCE_BYTES

__all__ = ["SALT_BYTES", "Opened", "Sealed", "commitment", "open_payload", "seal"]

SALT_BYTES = 32


@dataclass(frozen=True)
class Sealed:
    """An encrypted payload and its commitment."""

    nonce: bytes
    ciphertext: bytes
    commitment: str


@dataclass(frozen=True)
class Opened:
    """A decrypted payload with the salt that lets anyone recompute its commitment."""

    payload: dict[str, Any]
    salt: bytes

    @property
    def commitment(self) -> str:
        """The commitment the run's ledger entry carries."""
        return commitment(self.payload, self.salt)


def commitment(payload: Any, salt: bytes) -> str:
    """SHA-256 (hex) of the salt followed by the payload's canonical JSON."""
    return hashlib.sha256(salt + canonical_json(payload)).hexdigest()


def seal(payload: dict[str, Any], data_key: bytes, run_id: str) -> Sealed:
    """Encrypt a payload for one run under a data key."""
    salt = os.urandom(SALT_BYTES)
    body = canonical_json(payload)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, salt + body, run_id.encode())
    return Sealed(nonce, ciphertext, hashlib.sha256(salt + body).hexdigest())


def open_payload(nonce: bytes, ciphertext: bytes, data_key: bytes, run_id: str) -> Opened:
    """Decrypt a payload sealed for `run_id` (raises `cryptography`'s InvalidTag if tampered)."""
    plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, run_id.encode())
    return Opened(json.loads(plaintext[SALT_BYTES:]), plaintext[:SALT_BYTES])
