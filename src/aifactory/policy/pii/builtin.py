"""Built-in PII plugin: the built-in detector, and Presidio's analyzer when it is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.policy.pii.detector import DEFAULT_MIN_SCORE, BuiltinDetector, default_detector
from aifactory.policy.pii.entities import Detector

__all__ = ["builtin_detector", "presidio_detector"]


def builtin_detector(settings: Any) -> Detector:
    """The built-in detector with the settings' allow-list and minimum score (the shared compiled one
    when both are the defaults)."""
    if not settings.pii_allow_list and settings.pii_min_score == DEFAULT_MIN_SCORE:
        return default_detector()
    return BuiltinDetector(allow=settings.pii_allow_list, min_score=settings.pii_min_score)


def presidio_detector(settings: Any) -> Detector:
    """Presidio's analyzer: pattern recognizers only, or NER with the `pii_spacy_model` setting."""
    from aifactory.policy.pii.presidio import PresidioDetector

    return PresidioDetector(
        spacy_model=settings.pii_spacy_model, min_score=settings.pii_min_score, allow=settings.pii_allow_list
    )


@hookimpl
def aifactory_register_pii_detectors(register: Callable[[str, Callable[[Any], Detector]], None]) -> None:
    """Register `builtin`, and `presidio` when `presidio_analyzer` can be imported."""
    register("builtin", builtin_detector)
    if importlib.util.find_spec("presidio_analyzer") is not None:
        register("presidio", presidio_detector)
