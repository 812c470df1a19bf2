"""`client.data`: retention of run payloads: purge what is past retention, erase a data subject.

report = await client.data.erase("user-42", reason="ticket 1234")
print(report.payloads, "payloads erased")
"""

from __future__ import annotations

from aifactory.client._http import Channel
from aifactory.retention.records import Erasure, Purge

__all__ = ["DataApi"]


class DataApi:
    """Purges and erasures of run payloads (each one a ledger entry)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def purge(self, limit: int = 500) -> Purge:
        """Purge one batch of payloads past their retention; repeat while `remaining` is above 0."""
        return await self._channel.one(Purge, "POST", "/v1/data/purges", json={"limit": limit})

    async def erase(self, subject: str, *, reason: str = "") -> Erasure:
        """Erase every stored payload of a data subject (the id callers send as `subject`)."""
        body = {"subject": subject, "reason": reason}
        return await self._channel.one(Erasure, "POST", "/v1/data/erasures", json=body)
