"""What the policy engine returns for one request: a `Decision` with merged `Obligations` and the
reasons (which rule of which pack version contributed what).

Merging follows one rule per field, so the same contributions give the same decision in any order:
deny overrides everything; allow-lists intersect; obligations union; numeric ceilings and the
retention maximum take the smallest value; the retention minimum takes the largest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from aifactory.ledger.events import canonical_json

__all__ = [
    "REDACTION_MODES",
    "ContentRule",
    "Decision",
    "Obligations",
    "Reason",
    "RequestContext",
    "intersect",
    "merge",
]

Outcome = Literal["allow", "deny", "restrict"]

REDACTION_MODES = ("remove", "mask", "hash", "pseudonymize")
"""Redaction modes, strictest first: two rules asking for different modes of one entity type get
the stricter one."""

PII_SCOPES = ("all", "external")
"""Where redaction applies, widest first: `external` redacts only what is sent to a provider
outside the platform (any deployment whose provider is not `local`)."""


@dataclass(frozen=True)
class RequestContext:
    """Everything a decision may depend on. Conditions in packs see it as CEL variables."""

    principal: str
    at: datetime
    roles: tuple[str, ...] = ()
    team: str | None = None
    use_case: str | None = None
    jurisdiction: str | None = None
    surface: str | None = None
    risk_class: str | None = None
    data_categories: frozenset[str] = frozenset()
    purpose: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form (for the ledger, the dry run and CEL)."""
        return {
            "principal": self.principal,
            "at": self.at.isoformat(),
            "roles": list(self.roles),
            "team": self.team,
            "use_case": self.use_case,
            "jurisdiction": self.jurisdiction,
            "surface": self.surface,
            "risk_class": self.risk_class,
            "data_categories": sorted(self.data_categories),
            "purpose": self.purpose,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class ContentRule:
    """An output (or input) content rule: a regex, a word list or a CEL predicate over `text`."""

    id: str
    kind: Literal["regex", "words", "cel"]
    pattern: str | tuple[str, ...]
    action: Literal["block", "redact"] = "block"
    applies_to: Literal["input", "output", "both"] = "output"


@dataclass(frozen=True)
class Obligations:
    """What an allowed request must do. None on an allow-list means no limit from any pack."""

    allowed_model_tags: frozenset[str] | None = None
    allowed_regions: frozenset[str] | None = None
    redact: Mapping[str, str] = field(default_factory=dict)
    """PII entity type (Presidio names: EMAIL_ADDRESS, ...) -> redaction mode."""
    redact_scope: str = "external"
    output_pii: frozenset[str] = frozenset()
    """PII entity types to redact from model output."""
    human_review: bool = False
    disclosures: tuple[str, ...] = ()
    retention_min_days: int | None = None
    retention_max_days: int | None = None
    max_tokens: int | None = None
    max_cost_usd: str | None = None
    """A decimal string: the most one call may cost."""
    allowed_tools: frozenset[str] | None = None
    required_log_fields: frozenset[str] = frozenset()
    content_rules: tuple[ContentRule, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form, sorted, so equal obligations hash equally."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Mapping):
                value = dict(sorted(value.items()))
            elif f.name == "content_rules":
                value = [
                    {
                        "id": r.id,
                        "kind": r.kind,
                        "pattern": list(r.pattern) if isinstance(r.pattern, tuple) else r.pattern,
                        "action": r.action,
                        "applies_to": r.applies_to,
                    }
                    for r in value
                ]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class Reason:
    """One contribution to a decision: which rule of which pack version, and what it did."""

    pack: str
    version: int
    rule: str
    effect: str
    detail: str = ""
    source: str = ""
    """The article or section the rule implements (e.g. `EU AI Act Art. 50(1)`)."""

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "pack": f"{self.pack}@{self.version}",
            "rule": self.rule,
            "effect": self.effect,
            "detail": self.detail,
            "source": self.source,
        }


@dataclass(frozen=True)
class Decision:
    """One policy decision for one request context."""

    id: str
    outcome: Outcome
    obligations: Obligations
    reasons: tuple[Reason, ...]
    packs: tuple[str, ...]
    """`name@version` of every pack that was in scope."""
    context: RequestContext

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed (possibly restricted by obligations)."""
        return self.outcome != "deny"

    @property
    def denials(self) -> tuple[Reason, ...]:
        """The reasons that denied the request."""
        return tuple(r for r in self.reasons if r.effect == "deny")

    def as_json(self) -> dict[str, Any]:
        """The whole decision, JSON-ready (the dry run's answer)."""
        return {
            "id": self.id,
            "outcome": self.outcome,
            "obligations": self.obligations.as_json(),
            "reasons": [r.as_json() for r in self.reasons],
            "packs": list(self.packs),
            "context": self.context.as_json(),
        }

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of outcome, obligations, reasons, packs and context: what
        the ledger commits to, so an auditor can recompute a decision and compare."""
        body = self.as_json()
        body.pop("id")
        return _sha256(body)

    def part_digests(self) -> dict[str, str]:
        """SHA-256 of the canonical JSON of the obligations and of the reasons, each on its own: so
        a replay that does not match can say which of them differs (the ledger carries neither)."""
        return {
            "obligations": _sha256(self.obligations.as_json()),
            "reasons": _sha256([r.as_json() for r in self.reasons]),
        }

    def ledger_fields(self) -> dict[str, Any]:
        """What a run's ledger entry carries about its decision: enough to replay it (the context
        and the pack versions) and compare the digest, and the digests of its parts."""
        return {
            "decision_id": self.id,
            "decision_outcome": self.outcome,
            "decision_digest": self.digest(),
            "decision_parts": self.part_digests(),
            "decision_context": self.context.as_json(),
            "policy_packs": list(self.packs),
        }


def _sha256(value: Any) -> str:
    # canonical_json is RFC 8785 (the ledger's fast path for plain values): the same bytes, sooner
    return hashlib.sha256(canonical_json(value)).hexdigest()


def merge(contributions: Iterable[tuple[Reason, Obligations | None]]) -> tuple[Outcome, Obligations]:
    """The outcome and the merged obligations of every contribution (a deny carries None)."""
    denied = False
    restricted = False
    merged = Obligations()
    for reason, obligations in contributions:
        if reason.effect == "deny":
            denied = True
            continue
        if obligations is None:
            continue
        if obligations != Obligations():
            restricted = True
        merged = _combine(merged, obligations)
    outcome: Outcome = "deny" if denied else ("restrict" if restricted else "allow")
    return outcome, merged


def _combine(a: Obligations, b: Obligations) -> Obligations:
    redact = dict(a.redact)
    for entity, mode in b.redact.items():
        current = redact.get(entity)
        redact[entity] = mode if current is None else min(current, mode, key=REDACTION_MODES.index)
    return Obligations(
        allowed_model_tags=intersect(a.allowed_model_tags, b.allowed_model_tags),
        allowed_regions=intersect(a.allowed_regions, b.allowed_regions),
        redact=redact,
        redact_scope=min(a.redact_scope, b.redact_scope, key=PII_SCOPES.index)
        if a.redact and b.redact
        else (a.redact_scope if a.redact else b.redact_scope),
        output_pii=a.output_pii | b.output_pii,
        human_review=a.human_review or b.human_review,
        disclosures=tuple(dict.fromkeys(a.disclosures + b.disclosures)),
        retention_min_days=_most(a.retention_min_days, b.retention_min_days),
        retention_max_days=_least(a.retention_max_days, b.retention_max_days),
        max_tokens=_least(a.max_tokens, b.max_tokens),
        max_cost_usd=_least_decimal(a.max_cost_usd, b.max_cost_usd),
        allowed_tools=intersect(a.allowed_tools, b.allowed_tools),
        required_log_fields=a.required_log_fields | b.required_log_fields,
        content_rules=a.content_rules + tuple(r for r in b.content_rules if r not in a.content_rules),
    )


def intersect(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Two allow-lists as one (None: no limit)."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _least_decimal(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b, key=Decimal)
