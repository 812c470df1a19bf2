"""Content rules compiled for one direction: regexes and word lists that find spans, CEL predicates
that judge a whole text.

Compiled once per set of rules (cached), so a pack's rules cost their compilation once per process.
A regex that could backtrack catastrophically is refused when compiled, every search runs over a
bounded window (see `aifactory.policy.guards.holdback`), and, as a last resort, a search that still
takes longer than `REGEX_TIMEOUT` counts as a match that blocks (fail closed, logged): no rule can
stall the server.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import cel
import regex

from aifactory.errors import InvalidInputError
from aifactory.policy.decision import ContentRule

__all__ = [
    "CEL_VARIABLES",
    "MAX_PATTERN_CHARS",
    "REGEX_TIMEOUT",
    "Hit",
    "Predicate",
    "RuleSet",
    "compile_rules",
]

log = logging.getLogger(__name__)

Direction = Literal["input", "output"]

MAX_PATTERN_CHARS = 2000
"""Longest regex, CEL expression or single word a rule may hold."""

REGEX_TIMEOUT = 0.1
"""Seconds one regex search may take; a search that takes longer counts as a match that blocks."""

CEL_VARIABLES = ("direction", "jurisdiction", "risk_class", "surface", "text", "use_case")
"""What a CEL rule sees: the text, `"input"` or `"output"`, and the call's governance context (null
when unknown)."""

_sre: Any = importlib.import_module("re._parser")  # the stdlib's own parser: exact, no dependency


@dataclass(frozen=True, slots=True)
class Hit:
    """A span of text that a rule or a PII detector matched: what to do with it, and why."""

    start: int
    end: int
    label: str
    """The rule's id, or the PII entity type."""
    action: Literal["block", "redact"]
    entity: Any = None
    """The detector's entity, for PII (its redaction mode decides the replacement)."""

    def shifted(self, offset: int) -> Hit:
        """The same hit, `offset` characters further on."""
        return Hit(self.start + offset, self.end + offset, self.label, self.action, self.entity)


@dataclass(frozen=True, slots=True)
class Predicate:
    """A compiled CEL rule."""

    rule: ContentRule
    program: cel.Program

    def holds(self, text: str, variables: Mapping[str, Any]) -> bool:
        """Whether the predicate is true of `text`; an evaluation error counts as true (fail closed)."""
        context = {name: variables.get(name) for name in CEL_VARIABLES} | {"text": _cel_text(text)}
        try:
            return self.program.execute(context) is not False
        except Exception:  # the CEL runtime raises several kinds; a rule that cannot run must not pass
            return True


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The content rules of one direction, compiled."""

    patterns: tuple[tuple[ContentRule, regex.Pattern[str]], ...] = ()
    words: re.Pattern[str] | None = None
    word_rules: tuple[ContentRule, ...] = ()
    predicates: tuple[Predicate, ...] = ()
    longest: int = 0
    """The longest span a word or a bounded regex can match (unbounded regexes do not count)."""

    def __bool__(self) -> bool:
        return bool(self.patterns or self.words or self.predicates)

    def hits(self, text: str) -> Iterator[Hit]:
        """Every span a regex or word rule matches in `text` (empty matches ignored)."""
        for rule, pattern in self.patterns:
            yield from _matches(rule, pattern, text)
        if self.words is not None:
            for match in self.words.finditer(text):
                rule = self.word_rules[int((match.lastgroup or "w0")[1:])]
                yield Hit(match.start(), match.end(), rule.id, rule.action)


def compile_rules(rules: tuple[ContentRule, ...], direction: Direction) -> RuleSet:
    """The rules that apply to `direction`, compiled; InvalidInputError names a rule that cannot be
    (a bad or unsafe regex, a bad CEL expression, an empty word list). Cached per set of rules."""
    return _compile(tuple(r for r in rules if r.applies_to in (direction, "both")))


@functools.lru_cache(maxsize=256)
def _compile(rules: tuple[ContentRule, ...]) -> RuleSet:
    patterns = tuple((r, _regex(r)) for r in rules if r.kind == "regex")
    widths = [_sre.parse(p.pattern).getwidth()[1] for _, p in patterns]  # (min, max) characters
    word_rules = tuple(r for r in rules if r.kind == "words")
    predicates = tuple(Predicate(r, _cel(r)) for r in rules if r.kind == "cel")
    lists = [_words(r) for r in word_rules]
    alternation = "|".join(f"(?P<w{i}>{'|'.join(map(re.escape, words))})" for i, words in enumerate(lists))
    words = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE) if lists else None
    longest = max(
        [len(w) for words_ in lists for w in words_] + [w for w in widths if w < _UNBOUNDED], default=0
    )
    return RuleSet(patterns, words, word_rules, predicates, longest)


def _words(rule: ContentRule) -> list[str]:
    words = [rule.pattern] if isinstance(rule.pattern, str) else list(rule.pattern)
    words = [w.strip() for w in words if w.strip()]
    if not words:
        raise InvalidInputError(f"content rule {rule.id!r}: the word list is empty", rule=rule.id)
    if any(len(w) > MAX_PATTERN_CHARS for w in words):
        raise InvalidInputError(f"content rule {rule.id!r}: a word is longer than {MAX_PATTERN_CHARS}")
    return sorted(set(words), key=len, reverse=True)  # longest first: the alternation prefers them


def _source(rule: ContentRule) -> str:
    if not isinstance(rule.pattern, str) or not rule.pattern:
        raise InvalidInputError(f"content rule {rule.id!r}: a {rule.kind} rule needs one non-empty string")
    if len(rule.pattern) > MAX_PATTERN_CHARS:
        raise InvalidInputError(f"content rule {rule.id!r}: longer than {MAX_PATTERN_CHARS} characters")
    return rule.pattern


def _matches(rule: ContentRule, pattern: regex.Pattern[str], text: str) -> list[Hit]:
    """The rule's matches in `text`; the whole text as one blocking hit if the search times out."""
    try:
        spans = [m.span() for m in pattern.finditer(text, timeout=REGEX_TIMEOUT)]
    except TimeoutError:
        log.warning(
            "content rule %s: a regex search took over %ss; treated as a block", rule.id, REGEX_TIMEOUT
        )
        return [Hit(0, len(text), rule.id, "block")]
    return [Hit(start, end, rule.id, rule.action) for start, end in spans if end > start]


def _regex(rule: ContentRule) -> regex.Pattern[str]:
    """The rule's regex: checked with the standard library's parser (Python syntax), run by the
    `regex` engine in its compatible mode, whose searches can time out."""
    source = _source(rule)
    try:
        re.compile(source)
        compiled = regex.compile(source, regex.V0)
    except (re.error, regex.error, RecursionError, OverflowError) as error:
        raise InvalidInputError(f"content rule {rule.id!r}: not a valid regex ({error})") from None
    problem = _backtracking_risk(_sre.parse(source))
    if problem:
        raise InvalidInputError(
            f"content rule {rule.id!r}: the regex could backtrack catastrophically ({problem}); "
            "give the inner repetition a fixed count (e.g. {3}) or use a character class",
            rule=rule.id,
        )
    return compiled


def _cel(rule: ContentRule) -> cel.Program:
    try:
        return cel.compile(_source(rule))
    except ValueError as error:
        raise InvalidInputError(f"content rule {rule.id!r}: not a valid CEL expression ({error})") from None


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
_UNBOUNDED = 2**16
"""A repetition allowing this many or more is unbounded in effect."""


def _backtracking_risk(parsed: Any, inside_unbounded: bool = False) -> str | None:
    """Why a parsed regex could take exponential time, or None: an unbounded repetition containing
    another repetition or an alternation (star height two, `(a+)+`, `(a|a)*`), or a backreference."""
    for op, value in parsed:
        name = str(op)
        if name == "GROUPREF" or name == "GROUPREF_EXISTS":
            return "a backreference"
        if name in _REPEATS:
            low, high, body = value
            if inside_unbounded and high != low:  # a fixed count ({3}) cannot split two ways
                return "a repetition inside an unbounded repetition"
            nested = _backtracking_risk(body, inside_unbounded or high >= _UNBOUNDED)
            if nested:
                return nested
        elif name == "BRANCH":
            if inside_unbounded and len(value[1]) > 1:
                return "an alternation inside an unbounded repetition"
            for branch in value[1]:
                nested = _backtracking_risk(branch, inside_unbounded)
                if nested:
                    return nested
        elif name in ("SUBPATTERN", "ATOMIC_GROUP", "ASSERT", "ASSERT_NOT"):
            body = value if name == "ATOMIC_GROUP" else value[-1]
            nested = _backtracking_risk(body, inside_unbounded)
            if nested:
                return nested
    return None


def _cel_text(text: str) -> str:
    """The text as CEL can take it: lone surrogates (valid in JSON, not in UTF-8) become `?`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
