"""`policy lint`: rules that conflict, rules that are shadowed, rules that can never apply.

Static, over the packs' text: two rules "meet" when their scopes overlap and their periods overlap
(conditions are not solved, so a conflict between rules with exclusive conditions is reported too:
fix it by narrowing a scope). A rule is implied by another when the other's scope and period cover
it, the other has no condition (or the very same one), and its effects are at least as strict.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from aifactory.policy.decision import REDACTION_MODES
from aifactory.policy.jurisdictions import covers
from aifactory.policy.packs import RuleSpec
from aifactory.policy.rules import ActivePack, CompiledRule, compile_rules

__all__ = ["Finding", "lint"]

Kind = Literal["conflict", "shadowed", "unreachable", "undetectable"]
_LISTED = ("surfaces", "risk_classes", "use_cases")
_ALLOW_LISTS = ("allowed_model_tags", "allowed_regions", "allowed_tools")


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, the rule (`pack:rule`), what is wrong, and whether it fails the lint."""

    kind: Kind
    rule: str
    message: str
    severity: Literal["error", "info"] = "error"

    def as_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"kind": self.kind, "rule": self.rule, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class _Rule:
    label: str
    compiled: CompiledRule
    jurisdictions: frozenset[str] | None
    listed: tuple[frozenset[str] | None, ...]

    @property
    def spec(self) -> RuleSpec:
        return self.compiled.spec


def lint(
    packs: Sequence[tuple[str, ActivePack]],
    tracks: dict[str, str] | None = None,
    *,
    detectable: frozenset[str] | None = None,
) -> list[Finding]:
    """Every finding over `(label, pack)` pairs (the label names the pack in messages). With
    `detectable` (the PII types the configured detector finds), PII types a rule names that it cannot
    find are reported: they are not redacted."""
    findings: list[Finding] = []
    live: list[_Rule] = []
    for label, pack in packs:
        for compiled in compile_rules(pack, tracks or {}):
            rule = _effective(f"{label}:{compiled.spec.id}", compiled)
            if detectable is not None:
                findings += _undetectable(rule, detectable)
            if pack.spec.status != "active":
                findings.append(Finding("unreachable", rule.label, "the pack is retired", "info"))
                continue
            why = _unreachable(rule)
            if why:
                findings.append(Finding("unreachable", rule.label, why))
            else:
                live.append(rule)
    for a, b in itertools.combinations(live, 2):
        if _meet(a, b):
            findings += [Finding("conflict", f"{a.label} / {b.label}", m) for m in _conflicts(a.spec, b.spec)]
    for a, b in itertools.permutations(live, 2):
        why = _shadows(a, b)
        if why and not (why.startswith("its effects") and _shadows(b, a) and a.label > b.label):
            findings.append(Finding("shadowed", b.label, f"{why} {a.label}"))
    return findings


def _effective(label: str, rule: CompiledRule) -> _Rule:
    jurisdictions: frozenset[str] | None = None
    listed: list[frozenset[str] | None] = [None] * len(_LISTED)
    for scope in rule.scopes:
        jurisdictions = _narrow(jurisdictions, scope.jurisdictions)
        for i, name in enumerate(_LISTED):
            values = getattr(scope, name)
            current = listed[i]
            if values:
                listed[i] = frozenset(values) if current is None else current & frozenset(values)
    return _Rule(label, rule, jurisdictions, tuple(listed))


def _narrow(current: frozenset[str] | None, codes: list[str]) -> frozenset[str] | None:
    if not codes:
        return current
    if current is None:
        return frozenset(codes)
    return frozenset(c for c in current if any(covers(s, c) for s in codes)) | frozenset(
        c for c in codes if any(covers(s, c) for s in current)
    )


def _unreachable(rule: _Rule) -> str | None:
    if rule.jurisdictions is not None and not rule.jurisdictions:
        return "its scope cannot match: its jurisdictions and its pack's do not overlap"
    for name, values in zip(_LISTED, rule.listed, strict=True):
        if values is not None and not values:
            return f"its scope cannot match: its {name} and its pack's do not overlap"
    start, end = rule.compiled.start, rule.compiled.end
    if start is not None and end is not None and end < start:
        return f"`until` {end} is before `applies_from` {start}"
    if rule.compiled.program is not None and _always_false(rule):
        return f"its condition is false for every context its scope admits: {rule.spec.when}"
    return None


def _always_false(rule: _Rule) -> bool:
    """Whether the condition is false for every combination of the scope's listed values (only
    decidable when it reads nothing but surface, risk class and use case)."""
    variables = rule.compiled.variables
    names = {"surfaces": "surface", "risk_classes": "risk_class", "use_cases": "use_case"}
    choices = {names[n]: v for n, v in zip(_LISTED, rule.listed, strict=True) if v is not None}
    if not variables <= set(choices):
        return False
    assert rule.compiled.program is not None
    keys = sorted(variables)
    for values in itertools.product(*(sorted(choices[k]) for k in keys)):
        try:
            if rule.compiled.program.execute(dict(zip(keys, values, strict=True))) is True:
                return False
        except Exception:  # noqa: S112 (an erroring condition does not hold)
            continue
    return True


def _meet(a: _Rule, b: _Rule) -> bool:
    ja, jb = a.jurisdictions, b.jurisdictions
    if ja is not None and jb is not None and not any(covers(x, y) or covers(y, x) for x in ja for y in jb):
        return False
    for x, y in zip(a.listed, b.listed, strict=True):
        if x is not None and y is not None and not x & y:
            return False
    return _before(a.compiled.start, b.compiled.end) and _before(b.compiled.start, a.compiled.end)


def _before(start: date | None, end: date | None) -> bool:
    return start is None or end is None or start <= end


def _conflicts(a: RuleSpec, b: RuleSpec) -> list[str]:
    found = []
    ra, rb = a.retention, b.retention
    if ra and rb:
        for low, high in ((ra, rb), (rb, ra)):
            if low.min_days is not None and high.max_days is not None and low.min_days > high.max_days:
                found.append(f"retention min_days {low.min_days} exceeds max_days {high.max_days}")
    for name in _ALLOW_LISTS:
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None and not set(x) & set(y):
            found.append(f"{name} do not intersect: nothing would be allowed")
    for entity in sorted(set(a.redact or {}) & set(b.redact or {})):
        if a.redact and b.redact and a.redact[entity] != b.redact[entity]:
            found.append(f"{entity} is redacted two ways ({a.redact[entity]}, {b.redact[entity]})")
    return found


def _shadows(a: _Rule, b: _Rule) -> str | None:
    """Why rule `a` makes rule `b` redundant (the text ends where a's label follows), or None."""
    if not (_covers(a, b) and (a.spec.when is None or a.spec.when == b.spec.when)):
        return None
    if a.spec.deny is not None and b.spec.deny is None:
        return "it can only apply together with the deny of"
    if a.spec.deny is not None or _implies(a.spec, b.spec):
        return "its effects are already implied by"
    return None


def _covers(a: _Rule, b: _Rule) -> bool:
    if a.jurisdictions is not None and (
        b.jurisdictions is None
        or not all(any(covers(x, y) for x in a.jurisdictions) for y in b.jurisdictions)
    ):
        return False
    for x, y in zip(a.listed, b.listed, strict=True):
        if x is not None and (y is None or not y <= x):
            return False
    sa, sb, ea, eb = a.compiled.start, b.compiled.start, a.compiled.end, b.compiled.end
    return (sa is None or (sb is not None and sa <= sb)) and (ea is None or (eb is not None and ea >= eb))


def _implies(a: RuleSpec, b: RuleSpec) -> bool:
    """Whether a's effects are at least as strict as every effect of b."""
    if b.deny is not None:
        return False
    return all(_stricter(a, b, effect) for effect in b.effects())


def _stricter(a: RuleSpec, b: RuleSpec, effect: str) -> bool:
    x, y = getattr(a, effect), getattr(b, effect)
    if x is None or x is False:
        return False
    if effect in _ALLOW_LISTS:
        return set(x) <= set(y)
    if effect in ("required_log_fields", "output_pii"):
        return set(y) <= set(x)
    if effect == "redact":
        rank = REDACTION_MODES.index
        wide_enough = a.redact_scope in ("all", b.redact_scope)
        return wide_enough and all(e in x and rank(x[e]) <= rank(m) for e, m in y.items())
    if effect == "retention":
        low = y.min_days is None or (x.min_days is not None and x.min_days >= y.min_days)
        return low and (y.max_days is None or (x.max_days is not None and x.max_days <= y.max_days))
    if effect == "content_rules":
        return all(r in x for r in y)
    if effect in ("max_tokens", "max_cost_usd"):
        return bool(x <= y)
    return bool(x == y)  # human_review, disclosure


def _undetectable(rule: _Rule, detectable: frozenset[str]) -> list[Finding]:
    named = set(rule.spec.redact or {}) | set(rule.spec.output_pii or ())
    missing = sorted(named - detectable)
    if not missing:
        return []
    message = f"the PII detector cannot find {', '.join(missing)}: not redacted (another detector may)"
    return [Finding("undetectable", rule.label, message, "info")]
