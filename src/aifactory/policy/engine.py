"""The decision engine: active pack versions in, one `Decision` per request context out.

Deterministic apart from the decision id: the same context against the same pack versions (and the
same date-track settings) gives the same `Decision.digest()`, so an auditor can replay it.

Two caches, both bounded: the rules a scope key (jurisdiction, surface, risk class, use case) can
meet, and whole decisions, keyed by the scope key plus the value of every variable the scope's
conditions read plus the day when a rule there is dated. A scope whose conditions read `now` is
never decision-cached: its result may change at any instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aifactory.ids import new_id
from aifactory.policy.decision import Decision, Obligations, Outcome, Reason, RequestContext, merge
from aifactory.policy.rules import ActivePack, CompiledRule, ScopeKey, compile_rules, scope_miss

__all__ = ["Explanation", "NotApplied", "PolicyEngine", "activation", "day_of"]

Contribution = tuple[Reason, Obligations | None]

_KEY_VALUES: dict[str, Callable[[RequestContext], Any]] = {
    "purpose": lambda c: c.purpose,
    "data_categories": lambda c: c.data_categories,
    "roles": lambda c: c.roles,
    "attributes": lambda c: frozenset(c.attributes.items()),
    "team": lambda c: c.team,
    "principal": lambda c: c.principal,
}
"""How a cache key reads each variable a condition may read beyond the scope key (and `now`)."""


@dataclass(frozen=True)
class NotApplied:
    """A rule (or, with rule `*`, a whole pack) that did not apply to a context, and why."""

    pack: str
    rule: str
    why: str
    source: str = ""

    def as_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"pack": self.pack, "rule": self.rule, "why": self.why, "source": self.source}


@dataclass(frozen=True)
class Explanation:
    """A decision with every rule that did not apply, for `policy explain` and the dry run."""

    decision: Decision
    not_applied: tuple[NotApplied, ...]

    def as_json(self) -> dict[str, Any]:
        """The decision's JSON, its digest, and the rules that did not apply."""
        return self.decision.as_json() | {
            "digest": self.decision.digest(),
            "not_applied": [n.as_json() for n in self.not_applied],
        }


@dataclass
class _Plan:
    """What one scope key can meet: its rules and what a cached decision depends on."""

    rules: tuple[CompiledRule, ...]
    packs: tuple[str, ...]
    key_values: tuple[Callable[[RequestContext], Any], ...]
    dated: bool
    cacheable: bool
    decisions: dict[tuple[Any, ...], tuple[Outcome, Obligations, tuple[Reason, ...]]] = field(
        default_factory=dict
    )


def day_of(at: datetime) -> date:
    """The UTC day of an instant (a naive one is taken as UTC): what `applies_from` compares to."""
    return at.date() if at.tzinfo is None else at.astimezone(UTC).date()


def activation(ctx: RequestContext) -> dict[str, Any]:
    """The CEL variables of a request context."""
    at = ctx.at if ctx.at.tzinfo is not None else ctx.at.replace(tzinfo=UTC)
    return {
        "principal": ctx.principal,
        "team": ctx.team,
        "jurisdiction": ctx.jurisdiction,
        "surface": ctx.surface,
        "risk_class": ctx.risk_class,
        "use_case": ctx.use_case,
        "data_categories": sorted(ctx.data_categories),
        "purpose": ctx.purpose,
        "roles": list(ctx.roles),
        "attributes": dict(ctx.attributes),
        "now": at,
    }


class PolicyEngine:
    """Decides request contexts against a fixed set of pack versions (build a new one to change it).

    `cache_size` bounds each cache (a full cache is emptied, not evicted entry by entry); 0 turns
    the decision cache off (for measuring), leaving the per-scope rule lists (at most 1024 keys)."""

    def __init__(
        self, packs: Sequence[ActivePack], *, tracks: Mapping[str, str] | None = None, cache_size: int = 4096
    ) -> None:
        live = sorted((p for p in packs if p.spec.status == "active"), key=lambda p: p.name)
        self.packs = tuple(sorted(packs, key=lambda p: p.name))
        self.tracks = dict(tracks or {})
        self.rules = tuple(rule for pack in live for rule in compile_rules(pack, self.tracks))
        self.cache_size = cache_size
        self._plans: dict[ScopeKey, _Plan] = {}

    def decide(self, ctx: RequestContext) -> Decision:
        """The decision for one request context."""
        key = (ctx.jurisdiction, ctx.surface, ctx.risk_class, ctx.use_case)
        plan = self._plans.get(key) or self._plan(key)
        if not plan.cacheable or not self.cache_size:
            outcome, obligations, reasons = self._evaluate(plan, ctx)
        else:
            cache_key = tuple(value(ctx) for value in plan.key_values)
            if plan.dated:
                cache_key += (day_of(ctx.at),)
            hit = plan.decisions.get(cache_key)
            if hit is None:
                hit = self._evaluate(plan, ctx)
                if len(plan.decisions) >= self.cache_size:
                    plan.decisions.clear()
                plan.decisions[cache_key] = hit
            outcome, obligations, reasons = hit
        return Decision(new_id("dec"), outcome, obligations, reasons, plan.packs, ctx)

    def explain(self, ctx: RequestContext) -> Explanation:
        """The decision and, for every pack and rule that did not apply, why not."""
        key = (ctx.jurisdiction, ctx.surface, ctx.risk_class, ctx.use_case)
        missed: list[NotApplied] = []
        for pack in self.packs:
            retired = pack.spec.status != "active"
            why = "the pack is retired" if retired else scope_miss((pack.spec.scope,), key)
            if why is not None:
                missed.append(NotApplied(pack.ref, "*", f"not in scope: {why}"))
        variables, day = activation(ctx), day_of(ctx.at)
        for rule in self.rules:
            if scope_miss((rule.pack.spec.scope,), key) is None:
                why = scope_miss(rule.scopes, key) or _why_not(rule, variables, day)
                if why is not None:
                    missed.append(NotApplied(rule.pack.ref, rule.spec.id, why, rule.spec.source))
        return Explanation(self.decide(ctx), tuple(missed))

    def _plan(self, key: ScopeKey) -> _Plan:
        rules = tuple(r for r in self.rules if scope_miss(r.scopes, key) is None)
        packs = tuple(
            p.ref
            for p in self.packs
            if p.spec.status == "active" and scope_miss((p.spec.scope,), key) is None
        )
        variables = sorted({v for r in rules for v in r.variables})
        plan = _Plan(
            rules=rules,
            packs=packs,
            key_values=tuple(_KEY_VALUES[v] for v in variables if v in _KEY_VALUES),
            dated=any(r.is_dated for r in rules),
            cacheable="now" not in variables,
        )
        if len(self._plans) >= max(self.cache_size, 1024):
            self._plans.clear()
        self._plans[key] = plan
        return plan

    def _evaluate(self, plan: _Plan, ctx: RequestContext) -> tuple[Outcome, Obligations, tuple[Reason, ...]]:
        variables: dict[str, Any] | None = None
        day = day_of(ctx.at)
        contributions: list[Contribution] = []
        for rule in plan.rules:
            if not rule.in_force(day):
                continue
            if rule.program is not None:
                variables = variables if variables is not None else activation(ctx)
                if _holds(rule, variables) is not True:
                    continue
            contributions.extend(rule.contributions)
        outcome, obligations = merge(contributions)
        return outcome, obligations, tuple(reason for reason, _ in contributions)


def _holds(rule: CompiledRule, variables: dict[str, Any]) -> bool | str:
    """True when the rule's condition holds; otherwise False or the evaluation error's text (a
    condition that cannot be evaluated, such as a missing attribute, does not hold)."""
    assert rule.program is not None
    try:
        # Only what the condition reads: the CEL binding converts every value it is given.
        result = rule.program.execute({name: variables[name] for name in rule.variables})
    except Exception as exc:  # the CEL runtime raises bare RuntimeError/ValueError/TypeError
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return result is True


def _why_not(rule: CompiledRule, variables: dict[str, Any], day: date) -> str | None:
    track = f" (track {rule.track})" if rule.track else ""
    if rule.start is not None and day < rule.start:
        return f"not yet in force: applies from {rule.start.isoformat()}{track}"
    if rule.end is not None and day > rule.end:
        return f"no longer in force: applied until {rule.end.isoformat()}"
    if rule.program is None:
        return None
    held = _holds(rule, variables)
    if held is True:
        return None
    if held is False:
        return f"condition is false: {rule.spec.when}"
    return f"condition could not be evaluated ({held}): {rule.spec.when}"
