"""Redaction of the entities found in a text: `mask`, `remove`, `hash` or `pseudonymize`, one mode for
all types or one per type (an `Obligations.redact` map)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aifactory.errors import InvalidInputError
from aifactory.policy.decision import REDACTION_MODES
from aifactory.policy.pii.entities import Detector, Entity, check_entity_types, resolve_overlaps
from aifactory.policy.pii.pseudonyms import PiiKeyring, Pseudonymizer

__all__ = ["Redaction", "check_modes", "redact", "redact_text", "replacement"]


@dataclass(frozen=True)
class Redaction:
    """The redacted text and what was replaced: spans in the redacted text, `text` the replacement
    (never the original value)."""

    text: str
    entities: list[Entity]

    def as_json(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"text": self.text, "entities": [e.as_json() for e in self.entities]}


def check_modes(modes: str | Mapping[str, str]) -> Mapping[str, str] | str:
    """The modes, checked; 400 naming the valid modes when one is unknown."""
    given = [modes] if isinstance(modes, str) else list(modes.values())
    unknown = sorted({m for m in given if m not in REDACTION_MODES})
    if unknown:
        raise InvalidInputError(
            f"unknown redaction mode(s) {', '.join(unknown)}; valid: {', '.join(REDACTION_MODES)}",
            valid=list(REDACTION_MODES),
        )
    return modes


def replacement(entity: Entity, mode: str, pseudonymizer: Pseudonymizer) -> str:
    """What replaces `entity` in `mode`: `<TYPE>`, nothing, `<TYPE#hash>` or `<TYPE_surrogate>`."""
    if mode == "mask":
        return f"<{entity.type}>"
    if mode == "remove":
        return ""
    if mode == "hash":
        return pseudonymizer.hash(entity.type, entity.text)
    return pseudonymizer.surrogate(entity.type, entity.text)


def redact(
    text: str,
    entities: Sequence[Entity],
    mode: str | Mapping[str, str],
    *,
    pseudonymizer: Pseudonymizer | None = None,
) -> Redaction:
    """`text` with each entity replaced per `mode` (one mode, or type -> mode; types without a mode
    stay). Without a pseudonymizer, `hash` and `pseudonymize` use a random key of this call."""
    check_modes(mode)
    keys = pseudonymizer or PiiKeyring.ephemeral().pseudonymizer()
    pieces: list[str] = []
    done: list[Entity] = []
    cursor = shift = 0
    for entity in resolve_overlaps(entities):
        how = mode if isinstance(mode, str) else mode.get(entity.type)
        if how is None:
            continue
        if not 0 <= entity.start <= entity.end <= len(text):
            raise InvalidInputError(f"entity span {entity.start}-{entity.end} is outside the text")
        value = Entity(entity.type, entity.start, entity.end, entity.score, text[entity.start : entity.end])
        new = replacement(value, how, keys)
        pieces += [text[cursor : entity.start], new]
        start = entity.start + shift
        done.append(Entity(entity.type, start, start + len(new), entity.score, new))
        shift += len(new) - (entity.end - entity.start)
        cursor = entity.end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), done)


def redact_text(
    detector: Detector,
    text: str,
    modes: Mapping[str, str],
    pseudonymizer: Pseudonymizer | None = None,
    *,
    language: str | None = None,
) -> Redaction:
    """Find the types named in `modes` (an `Obligations.redact` map) and redact them; 400 when a
    type is one the detector cannot find (redaction that silently does nothing is worse)."""
    check_modes(modes)
    if not modes:
        return Redaction(text, [])
    check_entity_types(detector, modes.keys())
    found = detector.analyze(text, language=language, entities=modes.keys())
    return redact(text, found, modes, pseudonymizer=pseudonymizer)
