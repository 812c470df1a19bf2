"""The policy layer as the gateway enforces it on every call, in the order of the governed request
path: decide (policy packs), restrict (kill switches), guard the input (content rules, PII redaction
for the deployments the decision names), route under the decision's constraints, guard the output
(PII, content rules, JSON, held back while streaming), and decide every tool call the model returns.

`Enforcement` holds the parts (one per process); `CallPolicy` is what they make of one call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aifactory.gateway.governance import Decider, Governed, govern
from aifactory.gateway.provider import Model
from aifactory.gateway.routing import Constraints
from aifactory.gateway.types import ChatRequest, ChatResponse, EmbeddingRequest, StreamEvent
from aifactory.identity.permissions import Subject
from aifactory.policy.decision import Decision, RequestContext
from aifactory.policy.guards import CallGuards
from aifactory.policy.pii.redactor import Redactor
from aifactory.policy.restriction import canned_response, canned_stream, check_not_stopped, restrict_tools
from aifactory.policy.switch_records import Restriction
from aifactory.policy.switches import KillSwitches
from aifactory.policy.tool_context import ToolCallContext
from aifactory.policy.tool_guard import ToolGuard
from aifactory.policy.tool_specs import ToolCatalog

__all__ = ["CallPolicy", "Enforcement"]


class Enforcement:
    """The policy engine, kill switches, registered tools and their guard, and the PII redactor."""

    def __init__(
        self,
        policy: Decider,
        switches: KillSwitches,
        tools: ToolCatalog,
        tool_guard: ToolGuard,
        pii: Redactor,
        *,
        holdback: int,
        restore_roles: frozenset[str],
    ) -> None:
        self.policy = policy
        self.switches = switches
        self.tools = tools
        self.tool_guard = tool_guard
        self.pii = pii
        self.holdback = holdback
        self.restore_roles = restore_roles

    def decide(self, context: RequestContext) -> Decision:
        """The policy decision for one request context."""
        return self.policy.decide(context)

    def call(
        self, decision: Decision, constraints: Constraints, subject: Subject, run_id: str, request: Any
    ) -> CallPolicy:
        """What the decision and the switches in force make of one call: `PolicyDeniedError` when
        the decision denies, `StoppedError` when a switch is off. `constraints` are the caller's own."""
        governed = govern(decision, constraints, self.switches.excluded_deployments())
        ctx = decision.context
        restriction = self.switches.level_for(ctx.jurisdiction, ctx.use_case)
        check_not_stopped(restriction)
        guards = self._guards(decision, subject, run_id, request)
        tools = ToolCallContext.of(subject, decision, run_id=run_id, kill_switch_level=restriction.level)
        return CallPolicy(self, governed, restriction, guards, tools)

    def _guards(self, decision: Decision, subject: Subject, run_id: str, request: Any) -> CallGuards | None:
        obligations, ctx = decision.obligations, decision.context
        asks_json = isinstance(request, ChatRequest) and bool(
            (request.model_extra or {}).get("response_format")
        )
        if not (obligations.redact or obligations.output_pii or obligations.content_rules or asks_json):
            return None  # nothing to guard: the hot path stays as it was
        pseudonymizer = None
        if "pseudonymize" in obligations.redact.values() or "hash" in obligations.redact.values():
            pseudonymizer = self.pii.pseudonymizer(subject.team, run=run_id)
        return CallGuards(
            obligations,
            self.pii.detector,
            request=request if isinstance(request, ChatRequest) else None,
            pseudonymizer=pseudonymizer,
            restore=bool(self.restore_roles & set(subject.roles)),
            holdback=self.holdback,
            variables={
                "jurisdiction": ctx.jurisdiction,
                "surface": ctx.surface,
                "use_case": ctx.use_case,
                "risk_class": ctx.risk_class,
            },
        )


@dataclass
class CallPolicy:
    """One call under its decision: the limits on routing, the switches in force, its guards."""

    enforcement: Enforcement
    governed: Governed
    restriction: Restriction
    guards: CallGuards | None
    tools: ToolCallContext

    @property
    def decision(self) -> Decision:
        """The call's policy decision."""
        return self.governed.decision

    @property
    def canned(self) -> bool:
        """Whether a kill switch answers this call with its canned text instead of a model."""
        return self.restriction.level == "canned_reply"

    def canned_response(self) -> ChatResponse:
        """The kill switch's canned answer."""
        return canned_response(self.restriction)

    def canned_stream(self) -> AsyncIterator[StreamEvent]:
        """The kill switch's canned answer, streamed."""
        return canned_stream(self.restriction)

    def chat_request(self, request: ChatRequest) -> ChatRequest:
        """The request without the tools the switches take away, through the input guard
        (content rules; PII too when redaction applies everywhere)."""
        e = self.enforcement
        request = restrict_tools(request, self.restriction.level, e.tools.get, e.switches.disabled_tools())
        return request if self.guards is None else self.guards.request(request)

    def embedding_request(self, request: EmbeddingRequest) -> EmbeddingRequest:
        """The embeddings request through the input guard."""
        return request if self.guards is None else self.guards.embedding(request)

    def deployment(self, model: Model, provider: str) -> Model:
        """A candidate deployment's model, redacting what it is sent when the decision says so."""
        return model if self.guards is None else self.guards.deployment(model, provider)

    async def response(self, response: ChatResponse) -> ChatResponse:
        """The answer through the output guard, then with only the tool calls policy allows."""
        if self.guards is not None:
            response = self.guards.output.response(response)
        return await self.enforcement.tool_guard.filter_response(response, self.tools)

    def stream(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """The events held back by the output guard, tool calls decided when complete."""
        if self.guards is not None:
            events = self.guards.output.stream(events)
        return self.enforcement.tool_guard.filter_stream(events, self.tools)

    def findings(self) -> dict[str, Any] | None:
        """What the guards found (counts, never values), for the run's ledger entry."""
        return None if self.guards is None else self.guards.findings()
