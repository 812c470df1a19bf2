"""Tool calls are authorization decisions: Cedar decides each call a model returns.

Principal: the caller. Action: the tool's action. Resource: the tool, with its kind and side-effect
class. Context: the call's arguments (as a Cedar record), the request's jurisdiction, use case, risk
class and data classes, the decision's allowed tools and the kill switches in force.

Cedar has only permit and forbid; a third outcome, *require approval*, comes from an annotation. A
forbid policy annotated `@approval` holds a call for a person instead of denying it. Each call is
decided against every policy; if denied, it is decided again without the `@approval` policies: if
that allows it, only approval policies stood in its way and the outcome is `require_approval`;
otherwise `deny`. The policies are the packaged `tools.cedar`, then plugins' sources, then every
`*.cedar` file of `tool_policy_dir`; each needs an `@id`, which decisions name.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import cedarpy

from aifactory.errors import ConfigurationError, InvalidInputError
from aifactory.identity.permissions import NAMESPACE, Subject
from aifactory.policy.tool_context import ToolCallContext
from aifactory.policy.tool_specs import ToolSpec

__all__ = ["APPROVAL", "Outcome", "ToolCall", "ToolDecision", "ToolPolicies"]

APPROVAL = "approval"
"""The annotation that turns a forbid policy into a requirement for approval."""

Outcome = Literal["allow", "deny", "require_approval"]

log = logging.getLogger(__name__)

_LONG = 2**63


@dataclass(frozen=True)
class ToolCall:
    """One call a model returned: its id, the function's name and the arguments as sent (JSON text)."""

    id: str
    name: str
    arguments: str

    @classmethod
    def of(cls, call: Mapping[str, Any]) -> ToolCall:
        """From an OpenAI `tool_calls` item."""
        function = call.get("function") or {}
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls(str(call.get("id") or ""), str(function.get("name") or ""), text)

    @property
    def arguments_sha256(self) -> str:
        """SHA-256 of the arguments text: what the ledger keeps (never the arguments)."""
        return hashlib.sha256(self.arguments.encode()).hexdigest()


@dataclass(frozen=True)
class ToolDecision:
    """How one tool call was decided, by which policies, and why in words."""

    call: ToolCall
    outcome: Outcome
    policies: tuple[str, ...]
    reason: str
    action: str
    side_effect: str | None

    @property
    def allowed(self) -> bool:
        """Whether the call may reach the caller."""
        return self.outcome == "allow"

    def as_json(self) -> dict[str, Any]:
        """The decision as reported in a response (`aifactory.tool_decisions`) and the ledger."""
        return {
            "call_id": self.call.id,
            "tool": self.call.name,
            "action": self.action,
            "side_effect": self.side_effect,
            "outcome": self.outcome,
            "policies": list(self.policies),
            "reason": self.reason,
            "arguments_sha256": self.call.arguments_sha256,
        }


class ToolPolicies:
    """Decides tool calls against one Cedar policy set (and the same set without approvals)."""

    def __init__(self, sources: Iterable[tuple[str, str]]) -> None:
        """Parse `(file name, Cedar text)` sources; refuse bad or unnamed policies clearly."""
        policies = _collect(sources)
        self.policy_ids = tuple(policies)
        self.approval_ids = tuple(p for p, body in policies.items() if APPROVAL in body["annotations"])
        hard = {p: body for p, body in policies.items() if p not in self.approval_ids}
        self._all = _policy_set(policies)
        self._hard = _policy_set(hard)

    @classmethod
    def load(
        cls, extra_dir: Path | None = None, *, extra_sources: Iterable[tuple[str, str]] = ()
    ) -> ToolPolicies:
        """The packaged `tools.cedar`, then `extra_sources`, then `extra_dir/*.cedar` in name order."""
        default = resources.files("aifactory.policy").joinpath("tools.cedar")
        sources = [("tools.cedar", default.read_text(encoding="utf-8")), *extra_sources]
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise ConfigurationError(f"tool policy directory {extra_dir} does not exist")
            sources += [(str(p), p.read_text(encoding="utf-8")) for p in sorted(extra_dir.glob("*.cedar"))]
        return cls(sources)

    def decide(self, call: ToolCall, spec: ToolSpec | None, context: ToolCallContext) -> ToolDecision:
        """Allow, deny or require approval for one call of the tool `spec` (None: unregistered)."""
        action = spec.action if spec is not None else "unregistered"
        arguments, problem = _arguments(call, spec)
        request = {
            "principal": _uid("Principal", context.subject.id),
            "action": _uid("Action", action),
            "resource": _uid("Tool", call.name or "-"),
            "context": context.cedar(call.name, arguments, problem is None),
        }
        entities = _entities(context.subject, action, call.name or "-", spec)
        first = cedarpy.is_authorized(request, self._all, entities)
        _warn(first)
        side_effect = spec.side_effect if spec is not None else None
        if first.allowed:
            return _decision(call, "allow", first, action, side_effect, problem)
        if self.approval_ids and first.diagnostics.reasons:
            second = cedarpy.is_authorized(request, self._hard, entities)
            if second.allowed:
                return _decision(call, "require_approval", first, action, side_effect, problem)
        return _decision(call, "deny", first, action, side_effect, problem)


def _decision(
    call: ToolCall, outcome: Outcome, result: Any, action: str, side_effect: str | None, problem: str | None
) -> ToolDecision:
    policies = tuple(sorted(result.diagnostics.reasons))
    names = ", ".join(f'"{p}"' for p in policies)
    if outcome == "allow":
        reason = f"permitted by {names}"
    elif outcome == "require_approval":
        reason = f"needs approval ({names})"
    else:
        reason = f"denied by {names}" if policies else "no policy permits it (default deny)"
    if problem and outcome != "allow":
        reason += f"; arguments: {problem}"
    return ToolDecision(call, outcome, policies, reason, action, side_effect)


def _warn(result: Any) -> None:
    if result.diagnostics.errors:
        log.warning("tool policy errors: %s", "; ".join(result.diagnostics.errors))


# --- Cedar values -------------------------------------------------------------------------------


def _arguments(call: ToolCall, spec: ToolSpec | None) -> tuple[dict[str, Any], str | None]:
    """The arguments as a Cedar record, and why they are invalid (None when they are fine)."""
    try:
        parsed = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        return {}, "the arguments are not valid JSON"
    problem = spec.arguments_error(parsed) if spec is not None else None
    if not isinstance(parsed, dict):
        return {}, problem or "the arguments are not a JSON object"
    return _record(parsed), problem


def _record(value: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in ((k, _cedar(v)) for k, v in value.items()) if v is not None}


def _cedar(value: Any) -> Any:
    """A JSON value as Cedar takes it: null dropped; a float a long when whole, else a string;
    a long out of Cedar's range a string; a list a set."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -_LONG <= value < _LONG else str(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _LONG else repr(value)
    if isinstance(value, Mapping):
        return _record(value)
    if isinstance(value, list):
        return [item for item in map(_cedar, value) if item is not None]
    return str(value)


def _uid(entity_type: str, entity_id: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{entity_type}", "id": entity_id}


def _entities(subject: Subject, action: str, name: str, spec: ToolSpec | None) -> list[dict[str, Any]]:
    parents = [_uid("Role", role) for role in subject.roles]
    if subject.team is not None:
        parents.append(_uid("Team", subject.team))
    tool = {
        "name": name,
        "registered": spec is not None,
        "kind": spec.resource_kind if spec is not None else "unknown",
        "side_effect": spec.side_effect if spec is not None else "external",
        "action": action,
    }
    return [
        {
            "uid": _uid("Principal", subject.id),
            "attrs": {"id": subject.id, "kind": subject.kind},
            "parents": parents,
        },
        {"uid": _uid("Action", action), "attrs": {}, "parents": []},
        {"uid": _uid("Tool", name), "attrs": tool, "parents": []},
    ]


# --- policy files -------------------------------------------------------------------------------


def _policy_set(policies: Mapping[str, Any]) -> cedarpy.PolicySet:
    document = {"staticPolicies": dict(policies), "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))


def _collect(sources: Iterable[tuple[str, str]]) -> dict[str, Any]:
    policies: dict[str, Any] = {}
    for name, text in sources:
        try:
            document = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as error:
            raise InvalidInputError(f"{name}: invalid Cedar: {error}", file=name) from error
        if document["templates"]:
            raise InvalidInputError(f"{name}: policy templates are not supported", file=name)
        static = document["staticPolicies"]
        for key in sorted(static, key=lambda key: int(key.removeprefix("policy"))):
            policy = static[key]
            policy_id = policy.get("annotations", {}).get("id")
            if not policy_id:
                raise InvalidInputError(f'{name}: every tool policy needs an @id("...")', file=name)
            if policy_id in policies:
                raise InvalidInputError(f'{name}: tool policy id "{policy_id}" is used twice', file=name)
            policies[policy_id] = policy
    return policies
