"""Key files in the data dir (the ledger's signing key, the payload master key): created whole or
not at all, mode 0600, and durable, even when several processes start at once."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["create_key_file"]


def create_key_file(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600, unless another process created it first (then
    theirs stands). Readers never see a partial file: it is written under a temporary name and
    published by a hard link, which fails if the name is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the new name durable: a key lost in a crash orphans what it signed or encrypted."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
