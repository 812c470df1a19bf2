"""Rules made ready to decide: scopes resolved, the date track chosen, CEL compiled once, and each
rule's contributions (a reason per effect with its obligations) built once, not per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cel

from aifactory.policy.decision import ContentRule, Obligations, Reason
from aifactory.policy.jurisdictions import covers
from aifactory.policy.packs import PackSpec, RuleSpec, Scope, compile_condition

__all__ = ["ActivePack", "CompiledRule", "ScopeKey", "compile_rules", "scope_miss"]

ScopeKey = tuple[str | None, str | None, str | None, str | None]
"""(jurisdiction, surface, risk class, use case): what selects the rules a request may meet."""

Contribution = tuple[Reason, Obligations | None]


@dataclass(frozen=True)
class ActivePack:
    """One pack version the engine decides with: the catalog asset's name and version number."""

    name: str
    version: int
    spec: PackSpec

    @property
    def ref(self) -> str:
        """`name@version`, as reasons and decisions cite it."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class CompiledRule:
    """A rule of one pack version, ready to decide."""

    pack: ActivePack
    spec: RuleSpec
    scopes: tuple[Scope, ...]
    """The pack's scope and the rule's own: both must match."""
    program: cel.Program | None
    variables: frozenset[str]
    start: date | None
    end: date | None
    track: str | None
    contributions: tuple[Contribution, ...]

    @property
    def is_dated(self) -> bool:
        """Whether the rule's effect depends on the day."""
        return self.start is not None or self.end is not None

    def in_force(self, day: date) -> bool:
        """Whether the rule applies on `day` (`until` is the last day it applies)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


def compile_rules(pack: ActivePack, tracks: Mapping[str, str]) -> list[CompiledRule]:
    """Every rule of a pack, compiled; the date track is the one settings name for the pack's
    family, else the pack's default track."""
    track = tracks.get(pack.spec.track_family, pack.spec.default_track)
    return [_compile(pack, rule, track) for rule in pack.spec.rules]


def _compile(pack: ActivePack, rule: RuleSpec, track: str | None) -> CompiledRule:
    program = compile_condition(rule.when) if rule.when else None
    start = rule.applies_from
    chosen = None
    if isinstance(start, dict):
        chosen = track if track in start else pack.spec.default_track
        start = start.get(chosen or "")
    return CompiledRule(
        pack=pack,
        spec=rule,
        scopes=(pack.spec.scope,) if rule.scope is None else (pack.spec.scope, rule.scope),
        program=program,
        variables=frozenset(program.variables()) if program is not None else frozenset(),
        start=start,
        end=rule.until,
        track=chosen,
        contributions=_contributions(pack, rule),
    )


def scope_miss(scopes: tuple[Scope, ...], key: ScopeKey) -> str | None:
    """Why a request with scope key `key` is out of these scopes, or None when it is in them."""
    jurisdiction, surface, risk_class, use_case = key
    for scope in scopes:
        if scope.jurisdictions and not (
            jurisdiction and any(covers(code, jurisdiction) for code in scope.jurisdictions)
        ):
            return f"jurisdiction {jurisdiction} is not in {scope.jurisdictions}"
        for name, value, allowed in (
            ("surface", surface, scope.surfaces),
            ("risk class", risk_class, scope.risk_classes),
            ("use case", use_case, scope.use_cases),
        ):
            if allowed and value not in allowed:
                return f"{name} {value} is not in {list(allowed)}"
    return None


def _contributions(pack: ActivePack, rule: RuleSpec) -> tuple[Contribution, ...]:
    def reason(effect: str, detail: str) -> Reason:
        return Reason(pack.name, pack.version, rule.id, effect, detail, rule.source)

    if rule.deny is not None:
        return ((reason("deny", rule.deny), None),)
    return tuple(
        (reason(effect, _detail(rule, effect)), _obligations(rule, effect)) for effect in rule.effects()
    )


def _detail(rule: RuleSpec, effect: str) -> str:
    value: Any = getattr(rule, effect)
    if effect == "redact":
        modes = ", ".join(f"{entity}: {mode}" for entity, mode in sorted(value.items()))
        return f"{modes} ({rule.redact_scope})"
    if effect == "retention":
        return f"min_days {value.min_days}, max_days {value.max_days}"
    if effect == "content_rules":
        return ", ".join(r.id for r in value)
    if isinstance(value, list):
        return ", ".join(sorted(value))
    return "required" if value is True else str(value)


def _obligations(rule: RuleSpec, effect: str) -> Obligations:
    value: Any = getattr(rule, effect)
    if effect in ("allowed_model_tags", "allowed_regions", "allowed_tools", "required_log_fields"):
        named: dict[str, Any] = {effect: frozenset(value)}
        return Obligations(**named)
    if effect == "redact":
        return Obligations(redact=dict(value), redact_scope=rule.redact_scope)
    if effect == "output_pii":
        return Obligations(output_pii=frozenset(value))
    if effect == "disclosure":
        return Obligations(disclosures=(value,))
    if effect == "retention":
        return Obligations(retention_min_days=value.min_days, retention_max_days=value.max_days)
    if effect == "max_cost_usd":
        return Obligations(max_cost_usd=str(value))
    if effect == "content_rules":
        return Obligations(content_rules=tuple(_content_rule(r) for r in value))
    return Obligations(**{effect: value})  # human_review, max_tokens


def _content_rule(spec: Any) -> ContentRule:
    pattern = tuple(spec.pattern) if isinstance(spec.pattern, list) else spec.pattern
    return ContentRule(spec.id, spec.kind, pattern, spec.action, spec.applies_to)
