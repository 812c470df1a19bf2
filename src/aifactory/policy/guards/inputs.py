"""The input guard: PII redaction (per `Obligations.redact`) and input content rules over the text a
request sends (string content and `text` parts; images, audio and files are never touched)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aifactory.gateway.types import ChatRequest, EmbeddingRequest, Message
from aifactory.policy.decision import Obligations
from aifactory.policy.guards._pii import pii_policy
from aifactory.policy.guards.findings import Findings
from aifactory.policy.guards.holdback import Holdback
from aifactory.policy.guards.rules import compile_rules
from aifactory.policy.guards.text import TextGuard
from aifactory.policy.pii import Detector, Pseudonymizer

__all__ = ["InputGuard", "guard_input"]

R = TypeVar("R", ChatRequest, EmbeddingRequest)

_WINDOW = 256
"""The window whole input texts are scanned in (longer PII entities are redacted in pieces)."""


class InputGuard:
    """Guards the requests of one call. Redaction is deterministic per call (one pseudonymizer), and
    a request already guarded is returned as it was (fallback may send it to several deployments):
    `findings` counts each request once."""

    def __init__(
        self,
        obligations: Obligations,
        detector: Detector | None,
        *,
        pseudonymizer: Pseudonymizer | None = None,
        variables: Mapping[str, Any] | None = None,
        pii: bool = True,
        rules: bool = True,
    ) -> None:
        policy = pii_policy(detector, obligations.redact if pii else {}, pseudonymizer)
        compiled = compile_rules(obligations.content_rules if rules else (), "input")
        self.text = TextGuard(compiled, policy, "input", dict(variables or {}))
        self.findings = Findings()
        self._memo: dict[int, tuple[Any, Any]] = {}

    def chat(self, request: ChatRequest) -> ChatRequest:
        """The request with its text guarded (raises GuardrailViolationError for a blocking rule)."""
        if not self.text:
            return request
        return self._once(request, lambda: self._chat(request))

    def embedding(self, request: EmbeddingRequest) -> EmbeddingRequest:
        """The embeddings request with every input guarded."""
        if not self.text:
            return request
        return self._once(request, lambda: self._embedding(request))

    def guard(self, text: str) -> str:
        """One text guarded."""
        holdback = Holdback(self.text, self.findings, _WINDOW)
        return holdback.feed(text) + holdback.finish()

    def _once(self, request: R, guard: Callable[[], R]) -> R:
        memo = self._memo.get(id(request))
        if memo is not None and memo[0] is request:
            done: R = memo[1]
            return done
        guarded = guard()
        self._memo[id(request)] = (request, guarded)  # keeps `request` alive, so its id stays its own
        return guarded

    def _chat(self, request: ChatRequest) -> ChatRequest:
        messages = [self._message(m) for m in request.messages]
        if all(new is old for new, old in zip(messages, request.messages, strict=True)):
            return request
        return request.model_copy(update={"messages": messages})

    def _message(self, message: Message) -> Message:
        content = message.content
        if isinstance(content, str):
            guarded: str | list[dict[str, Any]] = self.guard(content)
        elif isinstance(content, list):
            guarded = [self._part(part) for part in content]
        else:
            return message
        return message if guarded == content else message.model_copy(update={"content": guarded})

    def _part(self, part: dict[str, Any]) -> dict[str, Any]:
        text = part.get("text")
        if part.get("type") != "text" or not isinstance(text, str):
            return part
        return {**part, "text": self.guard(text)}

    def _embedding(self, request: EmbeddingRequest) -> EmbeddingRequest:
        guarded = [self.guard(text) for text in request.texts]
        value: str | list[str] = guarded[0] if isinstance(request.input, str) else guarded
        return request if value == request.input else request.model_copy(update={"input": value})


def guard_input(
    request: ChatRequest,
    obligations: Obligations,
    detector: Detector | None,
    *,
    pseudonymizer: Pseudonymizer | None = None,
    variables: Mapping[str, Any] | None = None,
    pii: bool = True,
    rules: bool = True,
) -> tuple[ChatRequest, Findings]:
    """The request with PII redacted and input content rules applied, and what was found."""
    guard = InputGuard(
        obligations, detector, pseudonymizer=pseudonymizer, variables=variables, pii=pii, rules=rules
    )
    return guard.chat(request), guard.findings
