"""`client.kill_switches` and `client.tools`: stop or restrict service for a scope; registered tools.

await client.kill_switches.flip("jurisdiction", "EU", "no_tools", reason="incident 42")
await client.kill_switches.clear("jurisdiction:EU", reason="resolved")
"""

from __future__ import annotations

import builtins

from aifactory.client._http import Channel, present, segment
from aifactory.policy.switch_records import Switch
from aifactory.policy.tool_specs import ToolSpec

__all__ = ["KillSwitchesApi", "ToolsApi"]


class KillSwitchesApi:
    """Kill switches: flip (set a level), clear, list."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def flip(
        self, scope: str, value: str | None, level: str, *, reason: str, canned_text: str | None = None
    ) -> Switch:
        """Set `scope` (`global`, `jurisdiction`, `use_case`, `deployment`, `tool`) and `value` to
        `level` (`full` clears it); `canned_text` is the answer at `canned_reply`."""
        body = present(
            {"scope": scope, "value": value, "level": level, "reason": reason, "canned_text": canned_text}
        )
        return await self._channel.one(Switch, "POST", "/v1/kill-switches", json=body)

    async def clear(self, switch_id: str, *, reason: str) -> Switch:
        """Return the scope of `switch_id` (`global` or `<scope>:<value>`) to full service."""
        path = f"/v1/kill-switches/{segment(switch_id)}"
        return await self._channel.one(Switch, "DELETE", path, params={"reason": reason})

    async def list(self) -> builtins.list[Switch]:
        """Every switch set now."""
        return await self._channel.many(Switch, "GET", "/v1/kill-switches")


class ToolsApi:
    """Registered tools (register one as a `tool` asset through `client.assets`)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def list(self) -> builtins.list[ToolSpec]:
        """The tools the gateway serves, by name."""
        return await self._channel.many(ToolSpec, "GET", "/v1/tools")
