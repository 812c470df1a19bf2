"""Runs Presidio's analyzer over the PII corpus for `pii_bench.py`, in Presidio's own virtualenv
(Presidio is not a dependency of aifactory): `python _presidio_worker.py JOB.json OUT.json`.

Configuration: regex only, no spaCy model (none can be downloaded here). The analyzer is Presidio's
own `AnalyzerEngine` with every predefined recognizer of its default configuration for English,
plus its predefined recognizers for the national ids in the corpus (ES_NIF, ES_NIE,
IT_FISCAL_CODE, PL_PESEL, UK_NINO, DE_TAX_ID), which the default configuration registers for their
own language only: here they run for English too. The NER recognizer is removed. The NLP engine is
a blank spaCy pipeline (tokenizer only, nothing to download) whose lemmas are the lowercase tokens,
so Presidio's context enhancer still sees the words around a match. tldextract is kept offline.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    DeTaxIdRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    ItFiscalCodeRecognizer,
    PlPeselRecognizer,
    UkNinoRecognizer,
)

EXTRA = (
    EsNifRecognizer,
    EsNieRecognizer,
    ItFiscalCodeRecognizer,
    PlPeselRecognizer,
    UkNinoRecognizer,
    DeTaxIdRecognizer,
)


class LowercaseLemmas:
    """Tokenize with spaCy's blank tokenizer; each token's lemma is its lowercase text."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Any:
        doc = self.tokenizer(text)
        for token in doc:
            token.lemma_ = token.lower_
        return doc


def analyzer() -> AnalyzerEngine:
    """Presidio's analyzer, pattern recognizers only."""
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    nlp = spacy.blank("en")
    nlp.tokenizer = LowercaseLemmas(nlp.tokenizer)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.nlp = {"en": nlp}
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("SpacyRecognizer")
    for recognizer in EXTRA:
        registry.add_recognizer(recognizer(supported_language="en"))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def main() -> None:
    """Analyze every record (timed as one pass) and every 1 KB document (timed one by one)."""
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    engine = analyzer()
    engine.analyze(text="warm up 4111 1111 1111 1111 jane@example.com", language="en")
    predictions = []
    start = time.perf_counter()
    for text in job["texts"]:
        results = engine.analyze(text=text, language="en")
        predictions.append([[r.entity_type, r.start, r.end, r.score] for r in results])
    elapsed = time.perf_counter() - start
    latencies = [float("inf")] * len(job["docs"])
    for round_ in range(job["rounds"] + 1):  # as pii_bench.timed: the fastest after one untimed round
        for i, doc in enumerate(job["docs"]):
            t0 = time.perf_counter()
            engine.analyze(text=doc, language="en")
            if round_:
                latencies[i] = min(latencies[i], time.perf_counter() - t0)
    out = {
        "predictions": predictions,
        "seconds": elapsed,
        "latencies": latencies,
        "recognizers": sorted(r.name for r in engine.registry.recognizers),
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
