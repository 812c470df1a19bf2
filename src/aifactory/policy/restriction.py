"""Applying a kill switch's restriction to one chat request, before anything reaches a model.

`off` refuses with `StoppedError` (503, naming the switch); `canned_reply` answers with the switch's
text without calling a model; `no_tools` strips `tools` and `tool_choice` from the request;
`no_write_tools` keeps only the registered tools whose side effect is `read`. At every level, tools a
kill switch disables are stripped. Tool calls that come back anyway are decided by the `ToolGuard`,
whose policies see the same switches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

from aifactory.errors import StoppedError
from aifactory.gateway.types import ChatRequest, ChatResponse, Delta, StreamEnd, StreamEvent, Usage
from aifactory.policy.switch_records import Restriction
from aifactory.policy.tool_specs import ToolSpec

__all__ = ["canned_response", "canned_stream", "check_not_stopped", "restrict_tools"]

ToolLookup = Callable[[str], ToolSpec | None]


def check_not_stopped(restriction: Restriction) -> None:
    """Raise `StoppedError` naming the deciding switch when the level is `off`."""
    switch = restriction.deciding
    if restriction.level != "off" or switch is None:
        return
    raise StoppedError(
        f"kill switch {switch.id} is off: {switch.reason}",
        switch={"id": switch.id, "level": switch.level, "reason": switch.reason, "actor": switch.actor},
    )


def restrict_tools(
    request: ChatRequest, level: str, tools: ToolLookup, disabled: Collection[str] = ()
) -> ChatRequest:
    """The request without the tools the level (and the tool switches) take away."""
    if not request.tools:
        return request
    if level in ("no_tools", "canned_reply", "off"):
        kept: list[dict[str, Any]] = []
    else:
        kept = [t for t in request.tools if _may_offer(t, level, tools, disabled)]
    if len(kept) == len(request.tools):
        return request
    if not kept:
        return request.model_copy(update={"tools": None, "tool_choice": None, "parallel_tool_calls": None})
    return request.model_copy(update={"tools": kept, "tool_choice": _choice(request.tool_choice, kept)})


def _name(tool: dict[str, Any]) -> str | None:
    function = tool.get("function")
    return function.get("name") if isinstance(function, dict) else None


def _may_offer(tool: dict[str, Any], level: str, tools: ToolLookup, disabled: Collection[str]) -> bool:
    name = _name(tool)
    if name is None or name in disabled:
        return False
    if level != "no_write_tools":
        return True
    spec = tools(name)
    return spec is not None and spec.side_effect == "read"  # unknown side effects fail closed


def _choice(choice: str | dict[str, Any] | None, kept: list[dict[str, Any]]) -> str | dict[str, Any] | None:
    """`tool_choice` for the tools kept: a forced function that was taken away becomes `auto`."""
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
        return choice if forced in {_name(t) for t in kept} else "auto"
    return choice


def canned_response(restriction: Restriction) -> ChatResponse:
    """The whole answer at `canned_reply`: the switch's text, no tokens, no model."""
    message = {"role": "assistant", "content": restriction.canned_text or "", "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    return ChatResponse([choice], Usage(), upstream_model="", extra=_extra(restriction))


async def canned_stream(restriction: Restriction) -> AsyncIterator[StreamEvent]:
    """The streamed answer at `canned_reply`: the text in one chunk, then the end."""
    delta = {"role": "assistant", "content": restriction.canned_text or ""}
    yield Delta([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
    yield Delta([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
    yield StreamEnd(Usage(), "stop")


def _extra(restriction: Restriction) -> dict[str, Any]:
    switch = restriction.deciding
    return {} if switch is None else {"kill_switch": {"id": switch.id, "level": switch.level}}
