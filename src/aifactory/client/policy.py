"""`client.policy`: the active policy packs, and dry-run decisions.

decision = await client.policy.decide(jurisdiction="DE", surface="chat", data_categories=["personal_data"])
print(decision["outcome"], decision["obligations"]["disclosures"])
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from aifactory.client._http import Channel, present
from aifactory.policy.records import PackInfo

__all__ = ["PolicyApi"]


class PolicyApi:
    """Policy: what is active, and what it decides."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def packs(self) -> builtins.list[PackInfo]:
        """The active pack versions."""
        return await self._channel.many(PackInfo, "GET", "/v1/policy/packs")

    async def decide(self, *, at: datetime | None = None, **context: Any) -> dict[str, Any]:
        """The decision (JSON) for a context given as `RequestContext` fields; nothing is recorded."""
        body = present(context | {"at": at.isoformat() if at else None})
        response = await self._channel.request("POST", "/v1/policy/decisions", json=body)
        result: dict[str, Any] = response.json()
        return result
