"""PII for the guards: which types to find with which detector, and what each entity becomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aifactory.errors import ConfigurationError
from aifactory.policy.guards.rules import Hit
from aifactory.policy.pii import Detector, Entity, PiiKeyring, Pseudonymizer, check_entity_types, check_modes
from aifactory.policy.pii.redaction import replacement

__all__ = ["PiiPolicy", "pii_policy"]


@dataclass(frozen=True)
class PiiPolicy:
    """Which PII types to redact, how, and with what detector. Built once per call: without a
    pseudonymizer of the call's, `hash` and `pseudonymize` use one made for this policy."""

    detector: Detector
    modes: Mapping[str, str]
    """Entity type -> redaction mode (`remove`, `mask`, `hash`, `pseudonymize`)."""
    pseudonymizer: Pseudonymizer = field(default_factory=lambda: PiiKeyring.ephemeral().pseudonymizer())
    language: str | None = None

    def __post_init__(self) -> None:
        check_modes(self.modes)  # 400 naming the valid modes
        check_entity_types(self.detector, self.modes.keys())  # redaction that does nothing is worse

    def hits(self, text: str) -> list[Hit]:
        """The entities of the policy's types in `text`, as hits to redact."""
        found = self.detector.analyze(text, language=self.language, entities=self.modes.keys())
        return [Hit(e.start, e.end, e.type, "redact", e) for e in found if e.type in self.modes]

    def replacement(self, entity: Entity) -> str:
        """What one entity becomes under its type's mode."""
        return replacement(entity, self.modes[entity.type], self.pseudonymizer)


def pii_policy(
    detector: Detector | None, modes: Mapping[str, str], pseudonymizer: Pseudonymizer | None
) -> PiiPolicy | None:
    """The policy for `modes`, or None when there is nothing to redact."""
    if not modes:
        return None
    if detector is None:
        raise ConfigurationError("PII redaction is required, and no PII detector is configured")
    if pseudonymizer is None:
        return PiiPolicy(detector, dict(modes))
    return PiiPolicy(detector, dict(modes), pseudonymizer)
