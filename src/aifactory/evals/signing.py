"""Signing and verifying eval records (Ed25519 over RFC 8785 canonical JSON), and their keys.

The signed bytes are the RFC 8785 canonical JSON of the record as submitted, without its `signature`
member (its `signer` member included). Anyone can produce them: see docs/evals.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aifactory.errors import InvalidInputError
from aifactory.keyfiles import create_key_file
from aifactory.ledger.events import canonical_json

__all__ = [
    "digest",
    "generate_key_file",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_key_text",
    "sign",
    "signed_bytes",
    "verify",
]


def signed_bytes(record: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: canonical JSON of the record without `signature`."""
    return canonical_json({k: v for k, v in record.items() if k != "signature"})


def digest(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the whole record, signature included."""
    return hashlib.sha256(canonical_json(dict(record))).hexdigest()


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its raw 32 bytes (how signers are registered)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """`k_` and the first 16 hex digits of the SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "k_" + hashlib.sha256(raw).hexdigest()[:16]


def sign(record: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The record with `signer` (this key's id) and `signature` (base64) set."""
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    unsigned["signer"] = key_id(private_key.public_key())
    signature = private_key.sign(signed_bytes(unsigned))
    return unsigned | {"signature": base64.b64encode(signature).decode()}


def verify(record: Mapping[str, Any], public_key: Ed25519PublicKey) -> bool:
    """Whether the record's `signature` is this key's signature over its signed bytes."""
    try:
        signature = base64.b64decode(str(record.get("signature", "")), validate=True)
        public_key.verify(signature, signed_bytes(record))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its 32 raw bytes, or from PEM (SubjectPublicKeyInfo)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if isinstance(key, Ed25519PublicKey):
                return key
            raise ValueError(f"a {type(key).__name__}")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(
            f"public_key: not an Ed25519 public key (base64 of 32 bytes, or PEM): {exc}", field="public_key"
        ) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from an unencrypted PEM (PKCS#8) file."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InvalidInputError(f"cannot read the key file {path}: {exc.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def generate_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new Ed25519 private key (PEM PKCS#8, mode 0600) to `path`, which must not exist."""
    if path.exists():
        raise InvalidInputError(f"{path} exists; choose a new path (a key file is never overwritten)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    create_key_file(path, pem)
    return key
