"""The policy stage of a gateway call: the request context, the decision, and what the decision
changes about the call (which deployments it may use, its output and cost ceilings).

The gateway decides before it plans a call: nothing reaches a model unless a decision allowed it,
and every run carries its decision's id and digest into the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from aifactory.errors import PolicyDeniedError
from aifactory.gateway.routing import Constraints
from aifactory.policy.decision import Decision, Reason, RequestContext, intersect

__all__ = ["Decider", "Governed", "denial", "govern"]


class Decider(Protocol):
    """The policy engine as the gateway sees it."""

    def decide(self, context: RequestContext) -> Decision:
        """One decision for one request context."""
        ...


@dataclass(frozen=True)
class Governed:
    """A decided call: the decision and the limits it puts on the call."""

    decision: Decision
    constraints: Constraints
    max_tokens: int | None
    max_cost: Decimal | None


def govern(decision: Decision, base: Constraints, excluded: frozenset[str] = frozenset()) -> Governed:
    """The call's limits under an allowing decision; a deny raises `PolicyDeniedError`."""
    if not decision.allowed:
        raise denial(decision)
    o = decision.obligations
    constraints = Constraints(
        regions=intersect(base.regions, o.allowed_regions),
        required_tags=base.required_tags,
        allowed_tags=intersect(base.allowed_tags, o.allowed_model_tags),
        excluded=base.excluded | excluded,
    )
    cost = Decimal(o.max_cost_usd) if o.max_cost_usd is not None else None
    return Governed(decision, constraints, o.max_tokens, cost)


def denial(decision: Decision) -> PolicyDeniedError:
    """The error a denying decision answers with: every denying rule, with its pack and source."""
    reasons = decision.denials
    said = "; ".join(_said(r) for r in reasons)
    return PolicyDeniedError(
        f"denied by policy: {said}",
        decision_id=decision.id,
        reasons=[r.as_json() for r in reasons],
    )


def _said(r: Reason) -> str:
    source = f" ({r.source})" if r.source else ""
    detail = f": {r.detail}" if r.detail else ""
    return f"{r.pack}@{r.version} rule {r.rule}{source}{detail}"
