"""The PII side of one process: the detector the `pii_detector` setting picks among the registered
ones, and the data dir's PII keys (opened on first use)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from aifactory.errors import ConfigurationError
from aifactory.policy.pii.entities import Detector, Entity, check_entity_types
from aifactory.policy.pii.pseudonyms import KEY_FILE_NAME, PiiKeyring, Pseudonymizer
from aifactory.policy.pii.redaction import Redaction, check_modes, redact

__all__ = ["DetectorFactory", "Redactor"]

DetectorFactory = Callable[[Any], Detector]
"""What a plugin registers: settings -> Detector."""


class Redactor:
    """Finds and redacts PII with one detector; keys per team from the data dir's secret."""

    def __init__(self, detector: Detector, key_file: Path) -> None:
        self.detector = detector
        self.key_file = key_file
        self._keyring: PiiKeyring | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, factories: Mapping[str, DetectorFactory]) -> Redactor:
        """The detector named by `settings.pii_detector`; a configuration error naming the
        registered ones when it is not among them."""
        factory = factories.get(settings.pii_detector)
        if factory is None:
            raise ConfigurationError(
                f"unknown PII detector {settings.pii_detector!r} (AIFACTORY_PII_DETECTOR); "
                f"registered: {', '.join(sorted(factories))}"
            )
        key_file = settings.pii_key_file or Path(settings.data_dir) / KEY_FILE_NAME
        return cls(factory(settings), key_file)

    @property
    def keyring(self) -> PiiKeyring:
        """The data dir's PII keys, the key file created on first use."""
        with self._lock:
            if self._keyring is None:
                self._keyring = PiiKeyring.open(self.key_file)
            return self._keyring

    def unsupported(self, entity_types: Collection[str]) -> frozenset[str]:
        """The types the detector cannot find (check a policy pack's `redact` types when it is
        published, rather than fail every request that carries them)."""
        return frozenset(entity_types) - self.detector.supported

    def pseudonymizer(self, team: str | None = None, *, run: str | None = None) -> Pseudonymizer:
        """A pseudonymizer for one run of `team` (restore its output with `.restore`)."""
        return self.keyring.pseudonymizer(team, run=run)

    def analyze(
        self, text: str, *, language: str | None = None, entities: Collection[str] | None = None
    ) -> list[Entity]:
        """The entities in `text` (400 naming the valid types when one asked for is unknown)."""
        return self.detector.analyze(text, language=language, entities=entities)

    def redact(
        self,
        text: str,
        modes: str | Mapping[str, str],
        *,
        entities: Collection[str] | None = None,
        language: str | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        team: str | None = None,
    ) -> Redaction:
        """Find and redact: `modes` is one mode for `entities` (all types when None), or a map
        type -> mode (an `Obligations.redact`). `hash` and `pseudonymize` use the team's keys."""
        check_modes(modes)
        if not isinstance(modes, str):
            entities = list(modes) if entities is None else entities
        wanted = check_entity_types(self.detector, entities)
        if not wanted:
            return Redaction(text, [])
        found = self.detector.analyze(text, language=language, entities=wanted)
        used = {modes} if isinstance(modes, str) else set(modes.values())
        if pseudonymizer is None and used & {"hash", "pseudonymize"}:
            pseudonymizer = self.pseudonymizer(team)
        return redact(text, found, modes, pseudonymizer=pseudonymizer)
