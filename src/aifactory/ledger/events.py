"""Ledger events and their RFC 8785 canonical form (the exact bytes of a leaf)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785

__all__ = ["Event", "canonical_json", "leaf_bytes"]


_SAFE_INT = 2**53


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON value.

    Audit events are mostly strings, small integers and ASCII keys. For those, RFC 8785 output is
    exactly `json.dumps` with sorted keys, no whitespace and no ASCII escaping (same string escapes,
    same integer form), and that is ~20x faster than the general implementation, which the ledger's
    append rate needs. Anything else (floats, non-ASCII keys, huge integers) takes the general path.
    """
    if _is_plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return bytes(rfc8785.dumps(value))


def _is_plain(value: Any) -> bool:
    """True for values whose RFC 8785 form equals Python's sorted compact JSON."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _is_plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    return False


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One fact for the audit log: who did what to which subject, with details.

    `data` must hold no raw personal data: payloads that may need erasure are stored apart and
    referenced by hash.
    """

    type: str
    subject: str
    actor: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=_now)

    def to_json(self) -> str:
        """The event as canonical JSON text, as it waits in the queue (without its index)."""
        body = {
            "type": self.type,
            "subject": self.subject,
            "actor": self.actor,
            "data": dict(self.data),
            "time": self.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }
        return canonical_json(body).decode()


def leaf_bytes(queued_event: str, index: int) -> bytes:
    """The leaf for a queued event once it has its index: the event plus `index`, canonicalised."""
    body = json.loads(queued_event)
    body["index"] = index
    return canonical_json(body)
