"""The policy pack format: what a pack version's YAML (or JSON) content may hold, validated once at
upload so that a pack the engine loads never fails at decision time.

A pack has a scope (jurisdictions, surfaces, risk classes, use cases) and rules; each rule cites the
article it implements, may narrow the scope, may carry a CEL condition over the request context and
a period (`applies_from`, `until`), and has effects (a deny, or obligations). See docs/policy.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Literal

import cel
from pydantic import Field, field_validator, model_validator

from aifactory.errors import InvalidInputError
from aifactory.policy.decision import ContentRule
from aifactory.policy.entities import ENTITY_TYPES
from aifactory.policy.guards.rules import compile_rules
from aifactory.policy.jurisdictions import is_known
from aifactory.records import InputModel

__all__ = [
    "CEL_VARIABLES",
    "RISK_CLASSES",
    "SURFACES",
    "ContentRuleSpec",
    "PackSpec",
    "Retention",
    "RuleSpec",
    "Scope",
    "Source",
    "compile_condition",
]

SURFACES = ("chat", "voice", "api", "batch", "agent")
RISK_CLASSES = ("prohibited", "high", "limited", "minimal")
CEL_VARIABLES = frozenset(
    {"jurisdiction", "surface", "risk_class", "use_case", "data_categories", "purpose", "roles"}
    | {"attributes", "now", "team", "principal"}
)
"""The request context as a rule's `when` sees it (see `RequestContext`)."""

NAME = r"^[a-z][a-z0-9_-]{0,63}$"
RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,79}$"

Surface = Literal["chat", "voice", "api", "batch", "agent"]
RiskClass = Literal["prohibited", "high", "limited", "minimal"]
Mode = Literal["remove", "mask", "hash", "pseudonymize"]


def compile_condition(source: str) -> cel.Program:
    """A rule's `when`, compiled; ValueError (saying why) when it does not compile or names a
    variable the request context does not have."""
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"CEL does not compile: {str(exc).splitlines()[0]}") from None
    unknown = sorted(set(program.variables()) - CEL_VARIABLES)
    if unknown:
        known = ", ".join(sorted(CEL_VARIABLES))
        raise ValueError(f"CEL names unknown variable(s) {', '.join(unknown)}; known: {known}")
    return program


def _check_entities(entities: Iterable[str]) -> None:
    for entity in entities:
        if entity not in ENTITY_TYPES:
            raise ValueError(f"unknown PII entity type {entity!r}; see docs/policy.md for the list")


class Source(InputModel):
    """A citation: the law, regulation or standard a pack implements."""

    title: str = Field(min_length=1, max_length=300)
    url: str | None = Field(default=None, max_length=500)
    note: str = Field(default="", max_length=2000)


class Scope(InputModel):
    """Where a pack (or rule) applies; an empty list means any value."""

    jurisdictions: list[str] = Field(default_factory=list, max_length=100)
    surfaces: list[Surface] = Field(default_factory=list)
    risk_classes: list[RiskClass] = Field(default_factory=list)
    use_cases: list[str] = Field(default_factory=list, max_length=200)

    @field_validator("jurisdictions")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not is_known(code):
                raise ValueError(f"{code!r} is not a jurisdiction: use ISO codes (DE, US-CO) or EU, EEA")
        return codes


class Retention(InputModel):
    """How long records of a request are kept, in days."""

    min_days: int | None = Field(default=None, ge=0, le=36500)
    max_days: int | None = Field(default=None, ge=0, le=36500)

    @model_validator(mode="after")
    def _ordered(self) -> Retention:
        if self.min_days is not None and self.max_days is not None and self.min_days > self.max_days:
            raise ValueError(f"min_days {self.min_days} is more than max_days {self.max_days}")
        return self


class ContentRuleSpec(InputModel):
    """A content rule: a regex, a word list or a CEL predicate over `text`."""

    id: str = Field(pattern=RULE_ID)
    kind: Literal["regex", "words", "cel"]
    pattern: str | list[str]
    action: Literal["block", "redact"] = "block"
    applies_to: Literal["input", "output", "both"] = "output"

    @model_validator(mode="after")
    def _pattern(self) -> ContentRuleSpec:
        if self.kind == "words" and not isinstance(self.pattern, list):
            raise ValueError("a `words` rule's pattern is a list of words")
        if self.kind == "regex":
            try:
                re.compile(str(self.pattern))
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
            _guardable(ContentRule(self.id, "regex", str(self.pattern), self.action, self.applies_to))
        if self.kind == "cel":
            try:
                cel.compile(str(self.pattern))
            except (ValueError, RuntimeError) as exc:
                raise ValueError(f"CEL does not compile: {str(exc).splitlines()[0]}") from None
        return self


EFFECTS = (
    "allowed_model_tags",
    "allowed_regions",
    "redact",
    "output_pii",
    "human_review",
    "disclosure",
    "retention",
    "max_tokens",
    "max_cost_usd",
    "allowed_tools",
    "required_log_fields",
    "content_rules",
)
"""The obligation effects of a rule (a `deny` rule has none of them)."""


class RuleSpec(InputModel):
    """One rule: when it applies, what it does, and the article it implements."""

    id: str = Field(pattern=RULE_ID)
    description: str = Field(min_length=1, max_length=2000)
    source: str = Field(min_length=1, max_length=300, description="The article, e.g. `AI Act Art. 50(1)`.")
    scope: Scope | None = None
    when: str | None = Field(default=None, max_length=4000)
    applies_from: date | dict[str, date] | None = None
    until: date | None = None
    deny: str | None = Field(default=None, min_length=1, max_length=1000)
    allowed_model_tags: list[str] | None = None
    allowed_regions: list[str] | None = None
    redact: dict[str, Mode] | None = None
    redact_scope: Literal["external", "all"] = "external"
    output_pii: list[str] | None = None
    human_review: bool = False
    disclosure: str | None = Field(default=None, min_length=1, max_length=2000)
    retention: Retention | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: Decimal | None = Field(default=None, ge=0)
    allowed_tools: list[str] | None = None
    required_log_fields: list[str] | None = None
    content_rules: list[ContentRuleSpec] | None = None

    @field_validator("when")
    @classmethod
    def _compiles(cls, source: str | None) -> str | None:
        if source is not None:
            compile_condition(source)
        return source

    @field_validator("redact")
    @classmethod
    def _redacted(cls, value: dict[str, Mode] | None) -> dict[str, Mode] | None:
        _check_entities(value or ())
        return value

    @field_validator("output_pii")
    @classmethod
    def _output_entities(cls, value: list[str] | None) -> list[str] | None:
        _check_entities(value or ())
        return value

    @field_validator("allowed_model_tags", "allowed_regions", "allowed_tools", "required_log_fields")
    @classmethod
    def _names(cls, values: list[str] | None) -> list[str] | None:
        for value in values or ():
            if not value or len(value) > 100:
                raise ValueError(f"{value!r} must be 1 to 100 characters")
        return values

    @model_validator(mode="after")
    def _effects(self) -> RuleSpec:
        effects = self.effects()
        if self.deny is not None and effects:
            raise ValueError(f"a deny rule has no other effect; remove {', '.join(effects)}")
        if self.deny is None and not effects:
            raise ValueError(f"rule {self.id!r} has no effect: give it `deny` or one of {', '.join(EFFECTS)}")
        return self

    def effects(self) -> list[str]:
        """The obligation effects this rule sets, in `EFFECTS` order."""
        return [name for name in EFFECTS if getattr(self, name) not in (None, False)]


class PackSpec(InputModel):
    """A policy pack version: metadata, citations, scope and rules."""

    name: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    family: str | None = Field(default=None, pattern=NAME, description="Date-track family; default: name.")
    notes: str = Field(default="", max_length=10000)
    sources: list[Source] = Field(min_length=1)
    scope: Scope = Field(default_factory=Scope)
    status: Literal["active", "retired"] = "active"
    default_track: str | None = Field(default=None, pattern=NAME)
    rules: list[RuleSpec] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[RuleSpec]) -> list[RuleSpec]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return rules

    @model_validator(mode="after")
    def _tracks(self) -> PackSpec:
        for rule in self.rules:
            if isinstance(rule.applies_from, dict):
                if self.default_track is None:
                    raise ValueError(f"rule {rule.id!r} has date tracks: the pack needs `default_track`")
                if self.default_track not in rule.applies_from:
                    raise ValueError(f"rule {rule.id!r} has no date for track {self.default_track!r}")
        return self

    @property
    def track_family(self) -> str:
        """The name settings use to choose this pack's date track."""
        return self.family or self.name


def _guardable(rule: ContentRule) -> None:
    """Refuse at upload what the guards would refuse on every call (a regex that can backtrack
    catastrophically, such as `(a+)+`, a backreference, a pattern over 2,000 characters)."""
    try:
        compile_rules((rule,), rule.applies_to if rule.applies_to != "both" else "input")
    except InvalidInputError as exc:
        raise ValueError(exc.detail) from None
