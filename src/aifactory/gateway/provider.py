"""Providers: how the gateway reaches one kind of model server. Each kind is a plugin.

A provider builds a `Model` for one deployment. Models are composed (retry, breaker, fallback wrap a
model and return a model), so a provider only has to speak its wire protocol and classify its
errors into the `UpstreamError` tree of `aifactory.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEvent,
)

__all__ = ["Model", "Provider"]


class Model(Protocol):
    """Something that completes chats: a deployment, or a composition of deployments."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion; raises an `UpstreamError` subclass on failure."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas, then exactly one `StreamEnd`; raises an `UpstreamError` subclass on failure."""
        ...

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings for every input."""
        ...


class Provider(Protocol):
    """A kind of model server (`openai`, `anthropic`, `local`...)."""

    kind: str

    def model(self, deployment: Any, settings: Any) -> Model:
        """A model for one deployment (a `gateway.deployments.Deployment`)."""
        ...
