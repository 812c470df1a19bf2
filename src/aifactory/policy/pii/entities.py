"""What a PII detector finds and the interface every detector implements (the built-in one, the
Presidio plugin, any third party's)."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aifactory.errors import InvalidInputError

__all__ = ["Detector", "Entity", "check_entity_types", "resolve_overlaps"]


@dataclass(frozen=True)
class Entity:
    """One finding: its type (a Presidio entity name), its span as Python `str` indices, its score
    (0 to 1) and the text it covers."""

    type: str
    start: int
    end: int
    score: float
    text: str

    def as_json(self, *, with_text: bool = True) -> dict[str, object]:
        """JSON-ready form; without the text where the value itself must not travel."""
        out: dict[str, object] = {"type": self.type, "start": self.start, "end": self.end}
        out["score"] = round(self.score, 4)
        if with_text:
            out["text"] = self.text
        return out


@runtime_checkable
class Detector(Protocol):
    """Finds PII in text. `supported` names the entity types it can report."""

    name: str
    supported: frozenset[str]

    def analyze(
        self, text: str, *, language: str | None = None, entities: Collection[str] | None = None
    ) -> list[Entity]:
        """The entities in `text` (only the types in `entities`, when given), sorted by start."""
        ...


def check_entity_types(detector: Detector, entities: Collection[str] | None) -> frozenset[str]:
    """The entity types asked for (all the detector supports when None); 400 naming the valid ones
    when one is unknown."""
    if entities is None:
        return detector.supported
    unknown = sorted(set(entities) - detector.supported)
    if unknown:
        raise InvalidInputError(
            f"unknown entity type(s) {', '.join(unknown)} for the {detector.name} detector; "
            f"valid: {', '.join(sorted(detector.supported))}",
            valid=sorted(detector.supported),
        )
    return frozenset(entities)


def resolve_overlaps(found: Iterable[Entity]) -> list[Entity]:
    """Non-overlapping entities: where two overlap the higher score wins, then the longer span;
    sorted by start."""
    ranked = sorted(found, key=lambda e: (-e.score, e.start - e.end, e.start))
    starts: list[int] = []
    kept: list[Entity] = []
    for entity in ranked:
        i = bisect.bisect_right(starts, entity.start)
        if i > 0 and kept[i - 1].end > entity.start:
            continue
        if i < len(kept) and kept[i].start < entity.end:
            continue
        starts.insert(i, entity.start)
        kept.insert(i, entity)
    return kept
