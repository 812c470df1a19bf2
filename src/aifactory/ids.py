"""Identifiers: short random ids with a readable prefix per kind (`ast_...`, `prn_...`)."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A new random id such as `ast_3f9c0a1b2d4e5f60`."""
    return f"{prefix}_{secrets.token_hex(8)}"
