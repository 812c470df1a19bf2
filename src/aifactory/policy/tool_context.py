"""What a tool-call decision knows about the request the calls came back to."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from aifactory.identity.permissions import Subject
from aifactory.policy.decision import Decision

__all__ = ["ToolCallContext"]


@dataclass(frozen=True)
class ToolCallContext:
    """The caller and the governance context of one request, as tool policies see it."""

    subject: Subject
    jurisdiction: str | None = None
    use_case: str | None = None
    risk_class: str | None = None
    surface: str | None = None
    data_classes: frozenset[str] = frozenset()
    allowed_tools: frozenset[str] | None = None
    """The policy decision's allow-list; None when no pack limits tools."""
    kill_switch_level: str = "full"
    disabled_tools: frozenset[str] = frozenset()
    """Tools a kill switch disables (the guard fills it in from the switches in force)."""
    decision_id: str | None = None
    run_id: str | None = None

    @classmethod
    def of(
        cls, subject: Subject, decision: Decision | None = None, *, run_id: str | None = None, **fields: Any
    ) -> ToolCallContext:
        """From the request's policy `Decision` (its context and obligations), plus explicit fields."""
        if decision is None:
            return cls(subject, run_id=run_id, **fields)
        ctx = decision.context
        found = cls(
            subject,
            jurisdiction=ctx.jurisdiction,
            use_case=ctx.use_case,
            risk_class=ctx.risk_class,
            surface=ctx.surface,
            data_classes=frozenset(ctx.data_categories),
            allowed_tools=decision.obligations.allowed_tools,
            decision_id=decision.id,
            run_id=run_id,
        )
        return replace(found, **fields)

    def cedar(self, tool: str, arguments: dict[str, Any], arguments_valid: bool) -> dict[str, Any]:
        """The Cedar context record of one call of `tool` (absent values are left out: Cedar has no
        null)."""
        record: dict[str, Any] = {
            "arguments": arguments,
            "arguments_valid": arguments_valid,
            "kill_switch_level": self.kill_switch_level,
            "tool_switched": tool in self.disabled_tools,
            "data_classes": sorted(self.data_classes),
        }
        optional = {
            "jurisdiction": self.jurisdiction,
            "use_case": self.use_case,
            "risk_class": self.risk_class,
            "surface": self.surface,
        }
        record |= {key: value for key, value in optional.items() if value is not None}
        if self.allowed_tools is not None:
            record["allowed_tools"] = sorted(self.allowed_tools)
        return record
