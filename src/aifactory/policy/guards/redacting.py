"""`Redacting`: a model wrapper that guards every request before the wrapped model sees it, so that
redaction can apply per deployment (only those outside the platform, under `redact_scope:
external`), composed like retry, breaker and fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aifactory.gateway.provider import Model
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEvent,
)
from aifactory.policy.guards.inputs import InputGuard

__all__ = ["Redacting"]


class Redacting:
    """The wrapped model, sent requests guarded by `guard` (chat messages and embedding inputs)."""

    def __init__(self, model: Model, guard: InputGuard) -> None:
        self.inner = model
        self.name = model.name
        self.guard = guard

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A completion of the guarded request."""
        return await self.inner.complete(self.guard.chat(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings of the guarded inputs."""
        return await self.inner.embed(self.guard.embedding(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The stream of the guarded request."""
        events = self.inner.stream(self.guard.chat(request))
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
