"""What the guards found in one direction of one call, for the run record and the ledger: counts
per PII type and per rule, never the values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aifactory.policy.guards.rules import Hit

__all__ = ["Findings"]


@dataclass
class Findings:
    """Counts of what was redacted or blocked (by PII type and by rule id)."""

    pii: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    blocked: str | None = None
    """The rule that blocked the call, if one did."""

    def __bool__(self) -> bool:
        return bool(self.pii or self.rules or self.blocked)

    def add(self, hit: Hit) -> None:
        """Count one hit acted upon."""
        (self.pii if hit.entity is not None else self.rules)[hit.label] += 1

    def block(self, rule: str) -> None:
        """Note the rule that blocked the call (counted too)."""
        self.rules[rule] += 1
        self.blocked = rule

    def merged(self, other: Findings) -> Findings:
        """Both counts together (e.g. the rules applied up front and the redaction per deployment)."""
        return Findings(self.pii + other.pii, self.rules + other.rules, self.blocked or other.blocked)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready counts, sorted (for the run record and its ledger entry)."""
        return {
            "pii": dict(sorted(self.pii.items())),
            "rules": dict(sorted(self.rules.items())),
            "blocked": self.blocked,
        }
