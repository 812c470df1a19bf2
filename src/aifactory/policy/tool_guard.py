"""The tool guard: every tool call a model returns is decided before the caller sees it.

Allowed calls pass. Denied calls, and calls that need approval, are removed from the response; the
assistant message gets a short note saying which and why (its `content`), the finish reason becomes
`stop` when no call is left, and the decisions are reported (`ChatResponse.extra["tool_decisions"]`,
sent as `aifactory.tool_decisions`). Every decision is a ledger entry, `tool_call.decided`, with the
tool, outcome and policies, and the arguments only as a SHA-256.

Streaming: tool-call deltas are held back until the choice finishes (its arguments are then
complete), decided, and only the allowed calls are emitted, each whole in one delta, before the
finishing chunk. Text deltas pass at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aifactory.gateway.types import ChatResponse, Delta, StreamEnd, StreamEvent
from aifactory.ledger import Event, Ledger
from aifactory.policy.switch_records import is_stricter
from aifactory.policy.switches import KillSwitches
from aifactory.policy.tool_context import ToolCallContext
from aifactory.policy.tool_policies import ToolCall, ToolDecision, ToolPolicies
from aifactory.policy.tool_specs import ToolCatalog

__all__ = ["ToolGuard", "note_for"]


def note_for(decisions: Sequence[ToolDecision]) -> str:
    """The note an assistant message gets for the calls that were removed (empty when none were)."""
    lines = []
    for d in decisions:
        if d.outcome == "deny":
            lines.append(f"[aifactory] The tool call {d.call.name} was not run: {d.reason}.")
        elif d.outcome == "require_approval":
            lines.append(f"[aifactory] The tool call {d.call.name} is pending approval: {d.reason}.")
    return "\n".join(lines)


class ToolGuard:
    """Decides tool calls (Cedar), removes the ones not allowed, and records every decision."""

    def __init__(
        self,
        policies: ToolPolicies,
        tools: ToolCatalog,
        ledger: Ledger,
        switches: KillSwitches | None = None,
    ) -> None:
        self.policies = policies
        self.tools = tools
        self.ledger = ledger
        self.switches = switches

    def decide(self, calls: Sequence[ToolCall], context: ToolCallContext) -> list[ToolDecision]:
        """The decision on each call (no ledger entry; `filter_*` record them)."""
        ctx = self._in_force(context)
        return [self.policies.decide(call, self.tools.get(call.name), ctx) for call in calls]

    async def filter_response(self, response: ChatResponse, context: ToolCallContext) -> ChatResponse:
        """The response with only the allowed tool calls, and the decisions in `extra`."""
        decided: list[ToolDecision] = []
        choices = []
        for choice in response.choices:
            message = choice.get("message") or {}
            calls = message.get("tool_calls") or []
            if not calls:
                choices.append(choice)
                continue
            decisions = self.decide([ToolCall.of(c) for c in calls], context)
            decided += decisions
            choices.append(_filtered_choice(choice, message, calls, decisions))
        if not decided:
            return response
        await self._record(decided, context)
        extra = response.extra | {"tool_decisions": [d.as_json() for d in decided]}
        return replace(response, choices=choices, extra=extra)

    async def filter_stream(
        self,
        events: AsyncIterator[StreamEvent],
        context: ToolCallContext,
        decisions: list[ToolDecision] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """The events with tool calls held back until complete and only allowed ones emitted;
        every decision is appended to `decisions` when given."""
        held: dict[int, _Held] = {}
        sink = decisions if decisions is not None else []
        try:
            async for event in events:
                if isinstance(event, StreamEnd):
                    for index in sorted(i for i, box in held.items() if box.calls):
                        for out in await self._release(index, held.pop(index), None, context, sink):
                            yield out
                    yield event
                    continue
                for out in await self._pass(event, held, context, sink):
                    yield out
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:  # the gateway's stream records its run when closed
                await close()

    async def _pass(
        self, event: Delta, held: dict[int, _Held], context: ToolCallContext, sink: list[ToolDecision]
    ) -> list[StreamEvent]:
        if not _touches_calls(event, held):
            for choice in event.choices:  # passed as is; only remember whether text was sent
                if (choice.get("delta") or {}).get("content"):
                    held.setdefault(int(choice.get("index", 0)), _Held()).had_content = True
            return [event]
        kept: list[dict[str, Any]] = []
        after: list[StreamEvent] = []
        for choice in event.choices:
            index = int(choice.get("index", 0))
            delta = dict(choice.get("delta") or {})
            box = held.setdefault(index, _Held())
            box.add(delta.pop("tool_calls", None) or [])
            box.had_content = box.had_content or bool(delta.get("content"))
            finish = choice.get("finish_reason")
            if finish is not None and box.calls:
                if _shows(delta):
                    kept.append(choice | {"delta": delta, "finish_reason": None})
                after += await self._release(index, held.pop(index), choice, context, sink)
            elif _shows(delta) or finish is not None:
                kept.append(choice | {"delta": delta})
        return ([Delta(kept)] if kept else []) + after

    async def _release(
        self,
        index: int,
        box: _Held,
        finishing: dict[str, Any] | None,
        context: ToolCallContext,
        sink: list[ToolDecision],
    ) -> list[StreamEvent]:
        """The deltas for a choice's complete calls: the allowed calls, the note, the finish."""
        calls = box.complete()
        decisions = self.decide([ToolCall.of(c) for c in calls], context)
        sink += decisions
        await self._record(decisions, context)
        allowed = [c for c, d in zip(calls, decisions, strict=True) if d.allowed]
        out: list[StreamEvent] = [
            Delta([_chunk(index, {"tool_calls": [call | {"index": n}]})]) for n, call in enumerate(allowed)
        ]
        note = note_for(decisions)
        if note:
            out.append(Delta([_chunk(index, {"content": ("\n\n" if box.had_content else "") + note})]))
        if finishing is not None:
            finish = finishing.get("finish_reason")
            if not allowed and finish == "tool_calls":
                finish = "stop"
            out.append(Delta([finishing | {"delta": {}, "finish_reason": finish}]))
        return out

    def _in_force(self, context: ToolCallContext) -> ToolCallContext:
        """The context with the kill switches in force now (tool switches and the request's level)."""
        if self.switches is None:
            return context
        level = self.switches.level_for(context.jurisdiction, context.use_case).level
        if is_stricter(context.kill_switch_level, level):
            level = context.kill_switch_level
        return replace(
            context,
            kill_switch_level=level,
            disabled_tools=context.disabled_tools | self.switches.disabled_tools(),
        )

    async def _record(self, decisions: Sequence[ToolDecision], context: ToolCallContext) -> None:
        """One durable ledger entry per decision."""
        events = [_event(d, context) for d in decisions]
        if self.ledger.writer.is_running:
            await asyncio.gather(*(self.ledger.append_async(e) for e in events))
            return
        for e in events:
            await asyncio.to_thread(self.ledger.append, e)


@dataclass
class _Held:
    """The tool-call fragments of one choice, by tool index, until the choice finishes."""

    parts: dict[int, dict[str, Any]] = field(default_factory=dict)
    had_content: bool = False

    @property
    def calls(self) -> bool:
        return bool(self.parts)

    def add(self, fragments: list[dict[str, Any]]) -> None:
        for fragment in fragments:
            part = self.parts.setdefault(int(fragment.get("index", 0)), {"arguments": []})
            for key in ("id", "type"):
                if fragment.get(key):
                    part[key] = fragment[key]
            function = fragment.get("function") or {}
            if function.get("name"):
                part["name"] = function["name"]
            if function.get("arguments"):
                part["arguments"].append(function["arguments"])

    def complete(self) -> list[dict[str, Any]]:
        """The calls, whole, in the order of their indices."""
        return [
            {
                "id": part.get("id", ""),
                "type": part.get("type", "function"),
                "function": {"name": part.get("name", ""), "arguments": "".join(part["arguments"])},
            }
            for _, part in sorted(self.parts.items())
        ]


def _touches_calls(event: Delta, held: dict[int, _Held]) -> bool:
    """Whether a delta carries tool-call fragments, or finishes a choice with calls held back."""
    for choice in event.choices:
        if (choice.get("delta") or {}).get("tool_calls"):
            return True
        box = held.get(int(choice.get("index", 0)))
        if box is not None and box.calls and choice.get("finish_reason") is not None:
            return True
    return False


def _shows(delta: dict[str, Any]) -> bool:
    """Whether a delta (tool calls taken out) still says anything."""
    return any(value is not None for value in delta.values())


def _chunk(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}


def _filtered_choice(
    choice: dict[str, Any], message: dict[str, Any], calls: list[Any], decisions: list[ToolDecision]
) -> dict[str, Any]:
    allowed = [c for c, d in zip(calls, decisions, strict=True) if d.allowed]
    note = note_for(decisions)
    if not note:
        return choice
    content = message.get("content")
    text = f"{content}\n\n{note}" if isinstance(content, str) and content else note
    out_message = {k: v for k, v in message.items() if k != "tool_calls"} | {"content": text}
    if allowed:
        out_message["tool_calls"] = allowed
    finish = choice.get("finish_reason")
    if not allowed and finish == "tool_calls":
        finish = "stop"
    return choice | {"message": out_message, "finish_reason": finish}


def _event(decision: ToolDecision, context: ToolCallContext) -> Event:
    subject = f"run:{context.run_id}" if context.run_id else f"tool:{decision.call.name}"
    data = decision.as_json() | {
        "run_id": context.run_id,
        "decision_id": context.decision_id,
        "jurisdiction": context.jurisdiction,
        "use_case": context.use_case,
        "risk_class": context.risk_class,
    }
    return Event("tool_call.decided", subject, context.subject.id, data)
