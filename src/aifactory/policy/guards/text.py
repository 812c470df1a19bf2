"""`TextGuard`: everything one direction of a call checks text against (content rules and PII), and
what a hit becomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aifactory.errors import GuardrailViolationError
from aifactory.policy.guards._pii import PiiPolicy
from aifactory.policy.guards.findings import Findings
from aifactory.policy.guards.rules import Direction, Hit, RuleSet

__all__ = ["TextGuard", "marker"]


def marker(rule: str) -> str:
    """What a span redacted by a content rule becomes."""
    return f"[REDACTED:{rule}]"


@dataclass(frozen=True)
class TextGuard:
    """The content rules and PII policy of one direction of one call."""

    rules: RuleSet
    pii: PiiPolicy | None
    direction: Direction
    variables: Mapping[str, Any] = field(default_factory=dict)
    """Governance context for CEL rules (`jurisdiction`, `surface`, `use_case`, `risk_class`)."""

    def __bool__(self) -> bool:
        return bool(self.rules) or self.pii is not None

    @property
    def judges_whole_text(self) -> bool:
        """Whether a CEL rule must see the whole text before any of it may be released."""
        return bool(self.rules.predicates)

    def hits(self, text: str) -> list[Hit]:
        """Every span of `text` a regex or word rule or the PII detector matches."""
        found = list(self.rules.hits(text))
        if self.pii is not None and text:
            found += self.pii.hits(text)
        return found

    def judge(self, text: str, findings: Findings) -> str | None:
        """Apply the CEL rules to the whole text: raise for one that blocks, return the marker for
        one that redacts (the whole text is replaced), or None when none holds."""
        variables = dict(self.variables) | {"direction": self.direction}
        for predicate in self.rules.predicates:
            if predicate.holds(text, variables):
                if predicate.rule.action == "block":
                    raise self.violation(predicate.rule.id, findings)
                findings.rules[predicate.rule.id] += 1
                return marker(predicate.rule.id)
        return None

    def replacement(self, hit: Hit) -> str:
        """What a redacted hit becomes."""
        if hit.entity is not None and self.pii is not None:
            return self.pii.replacement(hit.entity)
        return marker(hit.label)

    def violation(self, rule: str, findings: Findings) -> GuardrailViolationError:
        """The error for a blocking rule (noted in `findings`); it never quotes the text."""
        findings.block(rule)
        return GuardrailViolationError(
            f"the {self.direction} broke content rule {rule!r}", rule=rule, direction=self.direction
        )
