"""Keys for `hash` and `pseudonymize`: one secret per data dir (`pii.key`, mode 0600, created on first
use), from which HKDF derives a key per team and purpose; and the `Pseudonymizer` of one run, which
replaces values by surrogates such as `<EMAIL_ADDRESS_1a2b3c4d>` and restores them in the output."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aifactory.errors import ConfigurationError

__all__ = ["KEY_FILE_NAME", "PiiKeyring", "Pseudonymizer"]

KEY_FILE_NAME = "pii.key"
"""The secret's file name in the data dir (unless the `pii_key_file` setting names another)."""

_SECRET_HEX = 64
_SURROGATE = re.compile(r"<([A-Z][A-Z0-9_]*?)_([0-9a-f]{8,16})>")


class PiiKeyring:
    """The PII secret of a data dir; derives the hash and pseudonym keys of each team."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ConfigurationError("the PII secret must be at least 32 bytes")
        self._secret = secret
        self._keys: dict[tuple[str, str | None], bytes] = {}

    @classmethod
    def open(cls, path: Path) -> PiiKeyring:
        """The secret in `path`, created (random, mode 0600) if the file does not exist yet."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(_read_secret(path))
        except OSError as exc:
            raise ConfigurationError(f"cannot create the PII key file {path}: {exc}") from exc
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(_SECRET_HEX // 2))
        return cls(_read_secret(path))

    @classmethod
    def ephemeral(cls) -> PiiKeyring:
        """A random secret that lives only in memory (hashes then differ in every process)."""
        return cls(secrets.token_bytes(32))

    def key(self, purpose: str, team: str | None) -> bytes:
        """The 32-byte key for `purpose` (`hash`, `pseudonym`) of `team` (None: no team); derived
        once per purpose and team (the gateway asks for it on every call that pseudonymizes)."""
        found = self._keys.get((purpose, team))
        if found is None:
            info = f"aifactory pii {purpose}\0{team or ''}".encode()
            found = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._secret)
            self._keys[(purpose, team)] = found
        return found

    def pseudonymizer(self, team: str | None = None, *, run: str | None = None) -> Pseudonymizer:
        """A pseudonymizer for one run of `team`: surrogates are stable within it and differ across
        runs (a random run nonce unless `run` is given)."""
        return Pseudonymizer(self.key("hash", team), self.key("pseudonym", team), run=run)


def _read_secret(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise ConfigurationError(
            f"the PII key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    for _ in range(100):  # another process may have created the file and be writing it
        text = path.read_text(encoding="ascii", errors="replace").strip()
        if text.strip("0123456789abcdefABCDEF"):
            raise ConfigurationError(f"the PII key file {path} is not hex")
        if len(text) >= _SECRET_HEX:
            return bytes.fromhex(text)
        time.sleep(0.01)
    raise ConfigurationError(f"the PII key file {path} is empty or truncated")


class Pseudonymizer:
    """Keyed replacements for one run: `hash` (stable for a team, not reversible) and `surrogate`
    (stable within the run, reversible with `restore`)."""

    def __init__(self, hash_key: bytes, pseudonym_key: bytes, *, run: str | None = None) -> None:
        self._hash_key = hash_key
        nonce = run.encode() if run is not None else secrets.token_bytes(16)
        self._run_key = hmac.new(pseudonym_key, nonce, hashlib.sha256).digest()
        self._values: dict[str, str] = {}
        self._surrogates: dict[tuple[str, str], str] = {}

    def hash(self, entity_type: str, value: str) -> str:
        """`<TYPE#16 hex>`: an HMAC of the value under the team's key, so the same value hashes the
        same in every run, and a short value cannot be found by trying all candidates without the key."""
        digest = hmac.new(self._hash_key, f"{entity_type}\0{value}".encode(errors="surrogatepass"), "sha256")
        return f"<{entity_type}#{digest.hexdigest()[:16]}>"

    def surrogate(self, entity_type: str, value: str) -> str:
        """`<TYPE_8 hex>` standing for `value` in this run (the same value, the same surrogate)."""
        known = self._surrogates.get((entity_type, value))
        if known is not None:
            return known
        data = f"{entity_type}\0{value}".encode(errors="surrogatepass")
        digest = hmac.new(self._run_key, data, hashlib.sha256).hexdigest()
        for length in (8, 12, 16):  # a longer tag on the rare collision within one run
            surrogate = f"<{entity_type}_{digest[:length]}>"
            if surrogate not in self._values:
                break
        self._values[surrogate] = value
        self._surrogates[(entity_type, value)] = surrogate
        return surrogate

    def restore(self, text: str) -> str:
        """`text` with every surrogate of this run replaced by its original value (others are left)."""
        return _SURROGATE.sub(lambda m: self._values.get(m.group(0), m.group(0)), text)

    @property
    def size(self) -> int:
        """How many distinct values this run has replaced."""
        return len(self._values)
