"""The `anthropic` provider: Anthropic's Messages API (`POST <base_url>/messages`) behind the
gateway's OpenAI chat format.

Requests are translated by `_anthropic_request`, answers and streams by `_anthropic_response`;
errors are classified in `gateway.classify`, like every provider's. The API key comes from the
environment variable the deployment names in `credentials_env`, sent as `x-api-key`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aifactory.errors import UpstreamBadRequestError
from aifactory.gateway.providers import _upstream
from aifactory.gateway.providers._anthropic_request import messages_body
from aifactory.gateway.providers._anthropic_response import chat_response, stream_events
from aifactory.gateway.specs import DeploymentSpec
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEvent,
)

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_BASE_URL", "AnthropicModel"]

ANTHROPIC_VERSION = "2023-06-01"
"""The `anthropic-version` header: the version of the Messages API this provider speaks."""
DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
"""Where a deployment without `base_url` is sent."""


def _base_url(spec: DeploymentSpec) -> str:
    url = str(spec.base_url or DEFAULT_BASE_URL).rstrip("/")
    # Anthropic's own SDKs take the bare host; accept that as well as the `.../v1` our specs use.
    return f"{url}/v1" if urlsplit(url).path in ("", "/") else url


class AnthropicModel:
    """One deployment on Anthropic's Messages API (or a server that speaks it)."""

    def __init__(self, name: str, spec: DeploymentSpec, transport: _upstream.Transport) -> None:
        self.name = name
        self.spec = spec
        self.url = f"{_base_url(spec)}/messages"
        self.upstream = _upstream.Upstream(transport, name, spec.timeout_seconds)

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        key = _upstream.api_key(self.name, self.spec.credentials_env)
        if key is not None:
            headers["x-api-key"] = key
        return headers

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion."""
        body = messages_body(self.name, request, self.spec)
        response = await self.upstream.post(self.url, body, self._headers())
        return chat_response(_upstream.json_object(self.name, response.content), self.spec.upstream_model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as Anthropic streams them, then the usage it reported."""
        body = messages_body(self.name, request, self.spec) | {"stream": True}
        async with self.upstream.stream(self.url, body, self._headers()) as response:
            async for event in stream_events(self.name, response):
                yield event

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Refused: Anthropic has no embeddings API."""
        raise UpstreamBadRequestError(
            f"{self.name}: Anthropic has no embeddings API; route embeddings to an openai or local "
            "deployment (operation: embeddings)",
            deployment=self.name,
        )
