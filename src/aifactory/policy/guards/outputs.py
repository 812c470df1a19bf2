"""The output guard of one call: PII in outputs, output content rules, the JSON the request asked
for, and de-anonymization for callers who may see originals; for whole responses and for streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from aifactory.gateway.types import ChatResponse, Delta, StreamEnd, StreamEvent
from aifactory.policy.decision import Obligations
from aifactory.policy.guards._pii import pii_policy
from aifactory.policy.guards.findings import Findings
from aifactory.policy.guards.holdback import Holdback
from aifactory.policy.guards.rules import compile_rules
from aifactory.policy.guards.structured import JsonExpectation
from aifactory.policy.guards.text import TextGuard
from aifactory.policy.pii import Detector, Pseudonymizer, StreamRestorer

__all__ = ["DEFAULT_HOLDBACK", "OutputGuard"]

DEFAULT_HOLDBACK = 64
"""Characters held back in streams when no setting says otherwise (`guard_holdback_chars`)."""


class OutputGuard:
    """Guards a call's output, whole (`response`) or streamed (`stream`); `findings` counts what it
    redacted or blocked. One per call: it keeps the counts and the pseudonymizer of that call."""

    def __init__(
        self,
        obligations: Obligations,
        detector: Detector | None,
        *,
        holdback: int = DEFAULT_HOLDBACK,
        expect: JsonExpectation | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        restore: bool = False,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        modes = {t: obligations.redact.get(t, "mask") for t in sorted(obligations.output_pii)}
        pii = pii_policy(detector, modes, pseudonymizer)
        rules = compile_rules(obligations.content_rules, "output")
        self.text = TextGuard(rules, pii, "output", dict(variables or {}))
        self.holdback = holdback
        self.expect = expect
        self.restorer = pseudonymizer if restore else None
        self.findings = Findings()

    @property
    def is_active(self) -> bool:
        """Whether the guard changes or checks anything (when not, callers may skip it)."""
        return bool(self.text) or self.expect is not None or self.restorer is not None

    def response(self, response: ChatResponse) -> ChatResponse:
        """The whole response guarded: every choice's text content."""
        if not self.is_active:
            return response
        choices = [self._choice(choice) for choice in response.choices]
        return ChatResponse(choices, response.usage, response.upstream_model, response.extra)

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            guarded: str | list[Any] = self._text(content)
        elif isinstance(content, list):  # content parts, as some providers answer
            guarded = [self._part(part) for part in content]
        else:
            return choice
        return {**choice, "message": {**(message or {}), "content": guarded}, "logprobs": None}

    def _part(self, part: Any) -> Any:
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            return part
        return {**part, "text": self._text(part["text"])}

    def _text(self, text: str) -> str:
        choice = _Choice(self)
        return choice.feed(text) + choice.finish()

    async def stream(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """The events guarded: text held back per choice until safe, tool calls unchanged, the rest
        released at a choice's `finish_reason` or at the end; a block raises GuardrailViolationError
        after the text released before it."""
        if not self.is_active:
            async for event in events:
                yield event
            return
        choices: dict[int, _Choice] = {}
        try:
            async for event in events:
                if isinstance(event, StreamEnd):
                    rest = _flush(choices)
                    if rest is not None:
                        yield rest
                    yield event
                    continue
                guarded = _delta(event, choices, self)
                if guarded is not None:
                    yield guarded
            rest = _flush(choices)
            if rest is not None:
                yield rest
        finally:
            await events.aclose()  # type: ignore[attr-defined]


class _Choice:
    """The guarded text of one choice: restored, then held back and checked, then (for JSON) held
    whole and validated."""

    def __init__(self, guard: OutputGuard) -> None:
        self.expect = guard.expect
        self.restorer = None if guard.restorer is None else StreamRestorer(guard.restorer)
        self.holdback = Holdback(guard.text, guard.findings, guard.holdback) if guard.text else None
        self.findings = guard.findings
        self.json: list[str] = []
        self.finished = False

    def feed(self, text: str) -> str:
        """The next piece in; what may be released now."""
        if self.restorer is not None:
            text = self.restorer.feed(text)
        if self.holdback is not None:
            text = self.holdback.feed(text)
        return self._held(text)

    def finish(self) -> str:
        """The rest, at the end of the choice (validated, when JSON is expected)."""
        if self.finished:
            return ""
        self.finished = True
        text = "" if self.restorer is None else self.restorer.flush()
        if self.holdback is not None:
            text = self.holdback.feed(text) + self.holdback.finish()
        text = self._held(text)
        if self.expect is not None:
            text = "".join(self.json)
            self.expect.check(text, self.findings)
        return text

    def _held(self, text: str) -> str:
        if self.expect is None:
            return text
        self.json.append(text)
        return ""


def _delta(event: Delta, choices: dict[int, _Choice], guard: OutputGuard) -> Delta | None:
    """The event with each choice's text replaced by what may be released; None when nothing is left
    to send."""
    if not event.choices:
        return event
    out = []
    for choice in event.choices:
        index = choice.get("index", 0)
        index = index if isinstance(index, int) else 0
        state = choices.get(index) or choices.setdefault(index, _Choice(guard))
        delta = dict(choice.get("delta") or {})
        content = delta.get("content")
        released = state.feed(content) if isinstance(content, str) and content else ""
        if choice.get("finish_reason") is not None:
            released += state.finish()
        if released or "content" in delta:
            delta["content"] = released
        kept = {**choice, "delta": delta}
        if "logprobs" in kept:
            kept["logprobs"] = None  # token logprobs carry the text itself
        if released or _carries_more(kept):
            out.append(kept)
    return Delta(out) if out else None


def _carries_more(choice: dict[str, Any]) -> bool:
    """Whether a choice says something besides (now empty) text: a role, a tool call, an end."""
    delta = choice["delta"]
    return choice.get("finish_reason") is not None or any(
        key != "content" and value is not None for key, value in delta.items()
    )


def _flush(choices: dict[int, _Choice]) -> Delta | None:
    """A last delta with the rest of every unfinished choice, or None when there is none."""
    out = []
    for index, state in sorted(choices.items()):
        rest = state.finish()
        if rest:
            out.append({"index": index, "delta": {"content": rest}, "logprobs": None, "finish_reason": None})
    return Delta(out) if out else None
