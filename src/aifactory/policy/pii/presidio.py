"""Presidio's analyzer as a detector (the `presidio` detector; registered only when
`presidio_analyzer` is installed: it is not a dependency of aifactory).

Without a spaCy model (the `pii_spacy_model` setting) it runs Presidio's predefined pattern
recognizers only: the NLP engine is a blank spaCy pipeline (a tokenizer, nothing to download) whose
lemmas are the lowercase tokens, so Presidio's context words still work. With a model, Presidio adds
its NER recognizer (PERSON, LOCATION, ...).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from aifactory.errors import ConfigurationError
from aifactory.policy.pii.entities import Entity, check_entity_types, resolve_overlaps

__all__ = ["PresidioDetector", "pattern_nlp_engine"]

_NER_RECOGNIZERS = ("SpacyRecognizer", "StanzaRecognizer", "TransformersRecognizer", "GLiNERRecognizer")


class _LowercaseLemmas:
    """A spaCy tokenizer wrapper that gives each token its lowercase text as lemma."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Any:
        doc = self.tokenizer(text)
        for token in doc:
            token.lemma_ = token.lower_
        return doc


def pattern_nlp_engine(language: str = "en") -> Any:
    """A Presidio NLP engine that tokenizes with a blank spaCy pipeline (no model, no NER)."""
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    nlp = spacy.blank(language)
    nlp.tokenizer = _LowercaseLemmas(nlp.tokenizer)
    engine = SpacyNlpEngine(models=[{"lang_code": language, "model_name": f"blank:{language}"}])
    engine.nlp = {language: nlp}
    return engine


def _offline_tlds() -> None:
    """Presidio's email recognizer asks `tldextract`, which fetches the public suffix list over the
    network by default: use the snapshot it ships instead (no network at run time)."""
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())


class PresidioDetector:
    """Presidio's `AnalyzerEngine` behind the `Detector` interface (English recognizers)."""

    name = "presidio"

    def __init__(
        self, *, spacy_model: str | None = None, min_score: float = 0.5, allow: Iterable[str] = ()
    ) -> None:
        try:
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NlpEngineProvider
        except ImportError as exc:
            raise ConfigurationError("the presidio detector needs `pip install presidio-analyzer`") from exc
        _offline_tlds()
        if spacy_model:
            config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": spacy_model}]}
            engine = NlpEngineProvider(nlp_configuration=config).create_engine()
        else:
            engine = pattern_nlp_engine("en")
        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        if not spacy_model:
            for name in _NER_RECOGNIZERS:
                registry.remove_recognizer(name)
        self._engine = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
        self.min_score = min_score
        self.allow = list(allow)
        self.supported = frozenset(self._engine.get_supported_entities("en"))

    def analyze(
        self, text: str, *, language: str | None = None, entities: Collection[str] | None = None
    ) -> list[Entity]:
        """Presidio's findings (as English text), overlaps resolved like the built-in detector's."""
        wanted = check_entity_types(self, entities)
        if not text or not wanted:
            return []
        results = self._engine.analyze(
            text=text,
            language="en",
            entities=sorted(wanted),
            score_threshold=self.min_score,
            allow_list=self.allow or None,
        )
        found = [Entity(r.entity_type, r.start, r.end, r.score, text[r.start : r.end]) for r in results]
        return resolve_overlaps(found)
