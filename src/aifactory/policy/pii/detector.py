"""The built-in detector: every pattern in one Hyperscan pass over the text, then checks, context
and allow-list on the candidates only, then overlaps resolved."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from functools import cache

from aifactory.policy.pii.entities import Entity, check_entity_types, resolve_overlaps
from aifactory.policy.pii.folding import fold, fold_bytes
from aifactory.policy.pii.patterns import CONTEXT_BOOST, PATTERNS, SUPPRESSORS, Pattern
from aifactory.policy.pii.scanner import Scanner

__all__ = ["DEFAULT_MIN_SCORE", "BuiltinDetector", "default_detector"]

DEFAULT_MIN_SCORE = 0.5
"""Entities scoring below this are not reported (weak shapes need a context word to reach it)."""

_BEFORE, _AFTER, _VETO_REACH = 48, 24, 24
_TOKEN = re.compile(r"[a-z0-9]+")
_FILLER = frozenset(("no", "nr", "n", "number", "num", "nummer", "numero", "numer", "is", "of", "the", "a"))
_GLUE = "-_."
_SURE = 0.9
_COSTLY_BASE, _COSTLY_PER_CHARS = 200, 256
_NO_DIGITS = str.maketrans("", "", "0123456789")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(text).lower().replace(".", ""))


class BuiltinDetector:
    """Presidio-compatible entity names, found by patterns and confirmed by checks (Luhn, mod-97,
    national check digits, `phonenumbers`, `ipaddress`), scored with context words."""

    name = "builtin"

    def __init__(
        self,
        *,
        allow: Iterable[str] = (),
        min_score: float = DEFAULT_MIN_SCORE,
        patterns: Sequence[Pattern] = PATTERNS,
    ) -> None:
        self.patterns = tuple(patterns)
        self.allow = frozenset(value.strip().casefold() for value in allow)
        self.min_score = min_score
        self.supported = frozenset(p.entity for p in self.patterns)
        regexes = [(p.regex, p.caseless) for p in self.patterns] + [(s, False) for s in SUPPRESSORS]
        self._scanner = Scanner(regexes)

    def analyze(
        self, text: str, *, language: str | None = None, entities: Collection[str] | None = None
    ) -> list[Entity]:
        """The entities in `text`, of the types in `entities` (all when None), sorted by start."""
        wanted = check_entity_types(self, entities)
        if not text:
            return []
        candidates: dict[tuple[int, int], list[int]] = {}
        suppressed: list[tuple[int, int]] = []
        for index, start, end in self._scanner.scan(fold_bytes(text)):
            if index >= len(self.patterns):
                suppressed.append((start, end))
            elif self.patterns[index].entity in wanted:
                candidates.setdefault((index, start), []).append(end)
        blocked = _Spans(suppressed)
        live = [(i, s, e) for (i, s), e in candidates.items() if not blocked.covers(s, max(e))]
        found = self._confirm_all(text, [c for c in live if not self.patterns[c[0]].costly], language)
        sure = _Spans((e.start, e.end) for e in found if e.score >= _SURE)
        costly = [c for c in live if self.patterns[c[0]].costly and not sure.covers(c[1], max(c[2]))]
        costly = [c for c in costly if _digits(text, c[1], max(c[2])) >= self.patterns[c[0]].min_digits]
        budget = _COSTLY_BASE + len(text) // _COSTLY_PER_CHARS
        found += self._confirm_all(text, costly, language, budget=budget)
        return resolve_overlaps(e for e in found if not blocked.covers(e.start, e.end))

    def _confirm_all(
        self,
        text: str,
        candidates: list[tuple[int, int, list[int]]],
        language: str | None,
        *,
        budget: int | None = None,
    ) -> list[Entity]:
        """The candidates that pass their checks. Past `budget` checks (a text so dense with number
        runs that checking them all would take seconds), a candidate whose digit count fits a
        phone number is kept unchecked, at the minimum score: fail closed."""
        found = []
        for index, start, ends in candidates:
            pattern = self.patterns[index]
            ends = sorted(ends, reverse=True)
            if budget is not None and budget <= 0:
                entity = self._unchecked(text, pattern, start, ends[0])
            else:
                entity = self._confirm(text, pattern, start, ends, language)
                budget = None if budget is None else budget - 1
            if entity is not None:
                found.append(entity)
        return found

    def _unchecked(self, text: str, pattern: Pattern, start: int, end: int) -> Entity | None:
        value = text[start:end]
        digits = _digits(text, start, end)
        if not (9 if value[:1] != "+" else 7) <= digits <= 15 or _glued(text, start, end):
            return None
        return Entity(pattern.entity, start, end, self.min_score, value)

    def _confirm(
        self, text: str, pattern: Pattern, start: int, ends: list[int], language: str | None
    ) -> Entity | None:
        if pattern.veto and _vetoed(text[max(0, start - _VETO_REACH) : start], pattern.veto):
            return None
        for end in ends:
            result = pattern.check(text[start:end], language, pattern.score)
            if result is None:
                continue
            s, e, score = start + result[0], start + result[1], result[2]
            if not pattern.glue_ok and _glued(text, s, e):
                continue
            final = self._score(text, pattern, s, e, score)
            if final is None or final < self.min_score:
                return None
            value = text[s:e]
            if value.strip().casefold() in self.allow:
                return None
            return Entity(pattern.entity, s, e, round(final, 4), value)
        return None

    def _score(self, text: str, pattern: Pattern, start: int, end: int, score: float) -> float | None:
        if pattern.veto and _vetoed(text[max(0, start - _VETO_REACH) : start], pattern.veto):
            return None
        if pattern.context:
            near = _tokens(text[max(0, start - _BEFORE) : start]) + _tokens(text[end : end + _AFTER])
            if not pattern.context.isdisjoint(near):
                score = max(score + CONTEXT_BOOST, 0.4)
        return min(score, 1.0)


def _vetoed(before: str, veto: frozenset[str]) -> bool:
    for token in reversed(_tokens(before)):
        if token not in _FILLER:
            return token in veto
    return False


def _glued(text: str, start: int, end: int) -> bool:
    """Whether the span continues into more letters or digits through `-`, `_` or `.` (a part of a
    longer code, a five-part version number)."""
    before = start >= 2 and text[start - 1] in _GLUE and text[start - 2].isalnum()
    after = end + 1 < len(text) and text[end] in _GLUE and text[end + 1].isalnum()
    return before or after


def _digits(text: str, start: int, end: int) -> int:
    """How many ASCII digits text[start:end] holds."""
    part = text[start:end]
    return len(part) - len(part.translate(_NO_DIGITS))


class _Spans:
    """Spans, answering "does one of them cover (start, end)?" in O(log n)."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [s for s, _ in ordered]
        self._reach: list[int] = list(itertools.accumulate((e for _, e in ordered), max))

    def covers(self, start: int, end: int) -> bool:
        """Whether a span starting at or before `start` reaches `end`."""
        i = bisect.bisect_right(self._starts, start)
        return i > 0 and self._reach[i - 1] >= end


@cache
def default_detector() -> BuiltinDetector:
    """The built-in detector with default settings, compiled once per process."""
    return BuiltinDetector()
