"""`client.ledger`: the signed checkpoint, the verifier key, entries and RFC 9162 proofs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aifactory.client._http import Channel, segment
from aifactory.ledger.merkle import leaf_hash

__all__ = ["PAGE_SIZE", "LedgerApi", "LedgerEntry"]

PAGE_SIZE = 1000
"""Most entries the server returns in one page."""


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry: the exact leaf bytes the tree commits to, and the event they encode."""

    index: int
    leaf: bytes
    event: dict[str, Any]

    @property
    def leaf_hash(self) -> bytes:
        """The RFC 9162 leaf hash, SHA-256(0x00 || leaf), as inclusion proofs use it."""
        return leaf_hash(self.leaf)

    @classmethod
    def of(cls, index: int, leaf: bytes) -> LedgerEntry:
        """The entry holding `leaf`; `event` is empty when the leaf is not a JSON object (tampering)."""
        try:
            event = json.loads(leaf)
        except ValueError:
            event = None
        return cls(index, leaf, event if isinstance(event, dict) else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerEntry:
        """The entry of the server's `{index, leaf (base64), event}` shape; the leaf is what counts."""
        return cls.of(int(data["index"]), base64.b64decode(data["leaf"], validate=True))


def _hashes(proof: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(h, validate=True) for h in proof["hashes"]]


def _entries(page: dict[str, Any]) -> list[LedgerEntry]:
    return [LedgerEntry.from_json(item) for item in page["entries"]]


class LedgerApi:
    """The tamper-evident audit log, as an auditor reads it."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def checkpoint(self) -> str:
        """The newest signed checkpoint: a C2SP tlog-checkpoint inside a signed note."""
        return (await self._channel.request("GET", "/v1/ledger/checkpoint")).text

    async def verifier_key(self) -> str:
        """The key that verifies checkpoints, in the C2SP `name+hash+base64` form."""
        return (await self._channel.request("GET", "/v1/ledger/verifier-key")).text.strip()

    async def entries(self, start: int = 0, end: int | None = None) -> list[LedgerEntry]:
        """Entries with start <= index < end (one page of at most PAGE_SIZE; empty past the end)."""
        params = {"start": start, "end": start + PAGE_SIZE if end is None else end}
        return await self._channel.parse(_entries, "GET", "/v1/ledger/entries", params=params)

    async def entry(self, index: int) -> LedgerEntry:
        """The entry at `index`."""
        return await self._channel.parse(LedgerEntry.from_json, "GET", f"/v1/ledger/entries/{segment(index)}")

    async def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """The audit path of entry `index` in the tree of `tree_size` entries (RFC 9162 order)."""
        params = {"index": index, "tree_size": tree_size}
        return await self._channel.parse(_hashes, "GET", "/v1/ledger/proofs/inclusion", params=params)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """The proof that the tree of `first` entries is a prefix of the tree of `second` entries."""
        params = {"first": first, "second": second}
        return await self._channel.parse(_hashes, "GET", "/v1/ledger/proofs/consistency", params=params)
