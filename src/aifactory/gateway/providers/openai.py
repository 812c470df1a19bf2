"""The `openai` provider: any server speaking OpenAI's chat completions and embeddings API
(OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server, TGI, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from aifactory.errors import UpstreamUnavailableError
from aifactory.gateway.classify import classify_stream_error
from aifactory.gateway.providers._upstream import Reply, Transport, Upstream, api_key, json_object
from aifactory.gateway.specs import DeploymentSpec
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    Delta,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEnd,
    StreamEvent,
    Usage,
)

__all__ = ["OpenAIModel"]


class OpenAIModel:
    """One deployment on an OpenAI-compatible upstream."""

    def __init__(self, name: str, spec: DeploymentSpec, transport: Transport) -> None:
        self.name = name
        self.spec = spec
        self.base_url = str(spec.base_url).rstrip("/")
        self.upstream = Upstream(transport, name, spec.timeout_seconds)
        host = urlsplit(self.base_url).hostname or ""
        # OpenAI's own API (and Azure's) take the output limit as `max_completion_tokens`; its
        # reasoning models refuse `max_tokens`. Other OpenAI-compatible servers know `max_tokens`.
        self.renames_max_tokens = host.endswith((".openai.com", ".openai.azure.com"))

    def request_body(self, request: ChatRequest, **extra: Any) -> dict[str, Any]:
        body = request.upstream_body(self.spec.upstream_model) | extra
        if self.renames_max_tokens and "max_tokens" in body:
            body.setdefault("max_completion_tokens", body.pop("max_tokens"))
        return body

    def _headers(self) -> dict[str, str]:
        key = api_key(self.name, self.spec.credentials_env)
        return {} if key is None else {"Authorization": f"Bearer {key}"}

    async def _post(self, path: str, body: dict[str, Any]) -> Reply:
        return await self.upstream.post(f"{self.base_url}{path}", body, self._headers())

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion."""
        body = self.request_body(request, stream=False)
        data = json_object(self.name, (await self._post("/chat/completions", body)).content)
        usage = data.get("usage") or {}
        return ChatResponse(
            choices=data.get("choices") or [],
            usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
            upstream_model=str(data.get("model") or self.spec.upstream_model),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as the upstream sends them, then the usage it reported (or our count)."""
        body = self.request_body(request, stream=True, stream_options={"include_usage": True})
        url = f"{self.base_url}/chat/completions"
        async with self.upstream.stream(url, body, self._headers()) as response:
            async for event in _sse_events(self.name, response):
                yield event

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings from the upstream."""
        body = {"model": self.spec.upstream_model, "input": request.texts, "encoding_format": "float"}
        data = json_object(self.name, (await self._post("/embeddings", body)).content)
        rows = sorted(data.get("data") or [], key=lambda row: int(row.get("index", 0)))
        usage = data.get("usage") or {}
        return EmbeddingResponse(
            [list(map(float, row["embedding"])) for row in rows],
            Usage(int(usage.get("prompt_tokens") or 0), 0),
        )


async def _sse_events(name: str, response: httpx.Response) -> AsyncIterator[StreamEvent]:
    usage: Usage | None = None
    finish: str | None = None
    chunks = 0
    async for line in response.aiter_lines():
        if not line or line.startswith(":"):
            continue
        if not line.startswith("data:"):
            if line.startswith(("event:", "id:", "retry:")):
                continue
            raise UpstreamUnavailableError(f"{name}: malformed stream line {line[:80]!r}", deployment=name)
        payload = line[5:].strip()
        if payload == "[DONE]":
            yield StreamEnd(usage or Usage(0, chunks), finish)
            return
        data = json_object(name, payload.encode())
        if "error" in data:
            raise classify_stream_error(name, data["error"])
        if data.get("usage"):
            usage = Usage(
                int(data["usage"].get("prompt_tokens") or 0), int(data["usage"].get("completion_tokens") or 0)
            )
        choices = data.get("choices") or []
        for choice in choices:
            finish = choice.get("finish_reason") or finish
        if choices:
            chunks += 1
            yield Delta(choices)
    raise UpstreamUnavailableError(f"{name}: the stream ended without [DONE] (cut off)", deployment=name)
