"""What the guards need of the PII package (`aifactory.policy.pii`): find entities, and say what one
entity becomes under a redaction mode."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aifactory.policy.guards.rules import Hit

__all__ = ["Detector", "PiiPolicy", "Pseudonymizer"]


class Detector(Protocol):
    """A PII detector (`aifactory.policy.pii.Detector`)."""

    name: str

    def analyze(
        self, text: str, *, language: str | None = None, entities: Collection[str] | None = None
    ) -> Sequence[Any]:
        """Entities found in `text` (each with type, start, end, score, text)."""
        ...


class Pseudonymizer(Protocol):
    """Keeps the pseudonyms of one call so that they can be turned back (`aifactory.policy.pii`)."""

    def restore(self, text: str) -> str:
        """The text with every pseudonym this pseudonymizer issued replaced by its original."""
        ...


@dataclass(frozen=True)
class PiiPolicy:
    """Which PII types to redact, how, and with what detector."""

    detector: Detector
    modes: Mapping[str, str]
    """Entity type -> redaction mode (`remove`, `mask`, `hash`, `pseudonymize`)."""
    pseudonymizer: Any = None
    language: str | None = None

    def hits(self, text: str) -> list[Hit]:
        """The entities of the policy's types in `text`, as hits to redact."""
        found = self.detector.analyze(text, language=self.language, entities=list(self.modes))
        return [Hit(e.start, e.end, e.type, "redact", e) for e in found if e.type in self.modes]

    def replacement(self, entity: Any) -> str:
        """What one entity becomes under its type's mode."""
        from aifactory.policy import pii  # type: ignore[attr-defined,unused-ignore]  # until h-pii lands

        local = pii.Entity(entity.type, 0, len(entity.text), entity.score, entity.text)
        mode = self.modes[entity.type]
        return str(pii.redact(entity.text, [local], mode, pseudonymizer=self.pseudonymizer).text)
