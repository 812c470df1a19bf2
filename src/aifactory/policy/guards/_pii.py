"""PII for the guards: which types to find with which detector, and what each entity becomes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aifactory.errors import ConfigurationError
from aifactory.policy.guards.rules import Hit
from aifactory.policy.pii import Detector, Entity, PiiKeyring, Pseudonymizer, check_entity_types, check_modes
from aifactory.policy.pii.redaction import replacement

__all__ = ["PiiPolicy", "pii_policy"]

log = logging.getLogger(__name__)


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
    """The policy for `modes`, or None when there is nothing to redact. Types the detector cannot
    find are left out (logged once each; `aifactory policy lint` reports them): a pack may name types
    that only another detector (Presidio with a spaCy model) finds, and failing every call over them
    would stop all traffic."""
    if not modes:
        return None
    if detector is None:
        raise ConfigurationError("PII redaction is required, and no PII detector is configured")
    supported = getattr(detector, "supported", None)
    if supported is not None:
        _warn_unsupported(detector.name, frozenset(modes) - supported)
        modes = {t: m for t, m in modes.items() if t in supported}
        if not modes:
            return None
    if pseudonymizer is None:
        return PiiPolicy(detector, dict(modes))
    return PiiPolicy(detector, dict(modes), pseudonymizer)


_warned: set[tuple[str, str]] = set()


def _warn_unsupported(detector: str, types: frozenset[str]) -> None:
    for entity_type in sorted(types):
        if (detector, entity_type) not in _warned:
            _warned.add((detector, entity_type))
            log.warning(
                "policy asks to redact %s, which the %s PII detector cannot find: not redacted",
                entity_type,
                detector,
            )
