"""API key material: generate, parse, hash, compare and redact keys. No database here.

A key reads `aif_<prefix>_<secret>`: `prefix` is 12 random lowercase hex characters that find the
key's row (and may be shown and logged), `secret` is `secrets.token_urlsafe(32)` (43 characters,
256 random bits). Only the SHA-256 of the whole key is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from aifactory.errors import AuthenticationError

__all__ = ["NewKey", "generate_key", "hash_key", "keys_match", "parse_key", "redact_key"]

_PREFIX_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32  # 43 url-safe characters
_KEY_RE = re.compile(r"aif_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Liberal on purpose: a truncated or padded key in a log line is still a secret worth hiding.
_LOOSE_KEY_RE = re.compile(r"aif_([0-9a-f]{12})_[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: `full_key` is shown to its owner once and never stored."""

    prefix: str
    full_key: str = field(repr=False)
    key_hash: bytes = field(repr=False)


def generate_key() -> NewKey:
    """A new random API key, with its prefix and the hash to store."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    full_key = f"aif_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewKey(prefix=prefix, full_key=full_key, key_hash=hash_key(full_key))


def parse_key(text: str) -> tuple[str, bytes]:
    """The prefix and hash of a presented key; anything not shaped like a key is refused."""
    match = _KEY_RE.fullmatch(text.strip())
    if match is None:
        # Never echo the presented text: it may be a real key pasted into the wrong place.
        raise AuthenticationError("malformed API key: expected aif_<12 hex characters>_<43 characters>")
    return match.group(1), hash_key(match.group(0))


def hash_key(full_key: str) -> bytes:
    """SHA-256 of the whole key text.

    A fast hash is right here: the secret is 256 random bits, so there is nothing to brute-force and
    a slow password hash (bcrypt, argon2) would only add latency to every authenticated request.
    """
    return hashlib.sha256(full_key.encode()).digest()


def keys_match(a: bytes, b: bytes) -> bool:
    """Whether two key hashes are equal, in constant time."""
    return hmac.compare_digest(a, b)


def redact_key(text: str) -> str:
    """The text with every aifactory API key replaced by `aif_<prefix>_***`."""
    return _LOOSE_KEY_RE.sub(r"aif_\1_***", text)
