"""PII in text that arrives in pieces (a streamed model answer): `StreamRedactor` holds back the
tail that could still be part of an entity and emits the rest redacted; `StreamRestorer` puts the
values of a run's surrogates back without ever splitting a surrogate."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aifactory.policy.pii.entities import Detector, Entity
from aifactory.policy.pii.pseudonyms import Pseudonymizer
from aifactory.policy.pii.redaction import check_modes, redact

__all__ = ["DEFAULT_HOLD", "StreamRedactor", "StreamRestorer"]

DEFAULT_HOLD = 128
"""Characters held back: longer than any entity but URLs (an IBAN with spaces is at most 42)."""

_CONTEXT = 64
_SURROGATE_MAX = 64


class StreamRedactor:
    """Redacts a stream chunk by chunk; what `feed` and `flush` return, joined, is the redacted
    stream. An entity longer than `hold` (a very long URL) may be emitted in part before it is
    recognised."""

    def __init__(
        self,
        detector: Detector,
        modes: str | Mapping[str, str],
        *,
        entities: Collection[str] | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        language: str | None = None,
        hold: int = DEFAULT_HOLD,
    ) -> None:
        check_modes(modes)
        self.detector = detector
        self.modes = modes
        self.entities = list(modes) if entities is None and not isinstance(modes, str) else entities
        self.pseudonymizer = pseudonymizer
        self.language = language
        self.hold = hold
        self._pending = ""
        self._context = ""

    def feed(self, chunk: str) -> str:
        """Take the next piece; return what is now safe to send, redacted (maybe nothing)."""
        self._pending += chunk
        return self._emit(final=False) if len(self._pending) > self.hold else ""

    def flush(self) -> str:
        """The end of the stream: everything still held, redacted."""
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> str:
        offset = len(self._context)
        text = self._context + self._pending
        found = [
            e
            for e in self.detector.analyze(text, language=self.language, entities=self.entities)
            if e.end > offset
        ]
        cut = len(text) if final else len(text) - self.hold
        for entity in found:
            if entity.start < cut < entity.end:
                cut = entity.start
        cut = max(cut, offset)
        inside = [_shift(e, offset) for e in found if e.end <= cut]
        out = redact(text[offset:cut], inside, self.modes, pseudonymizer=self.pseudonymizer).text
        self._context = text[max(0, cut - _CONTEXT) : cut]
        self._pending = text[cut:]
        return out


def _shift(entity: Entity, offset: int) -> Entity:
    start = max(entity.start, offset)
    return Entity(entity.type, start - offset, entity.end - offset, entity.score, entity.text)


class StreamRestorer:
    """Restores a run's surrogates in a stream, holding back a `<...` that may be a surrogate cut
    in two."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """Take the next piece; return it restored, minus a possible partial surrogate at its end."""
        text = self._pending + chunk
        open_at = text.rfind("<")
        if open_at != -1 and ">" not in text[open_at:] and len(text) - open_at < _SURROGATE_MAX:
            text, self._pending = text[:open_at], text[open_at:]
        else:
            self._pending = ""
        return self.pseudonymizer.restore(text)

    def flush(self) -> str:
        """The end of the stream."""
        text, self._pending = self._pending, ""
        return self.pseudonymizer.restore(text)
