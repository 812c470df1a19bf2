"""The `openai` provider: any server speaking OpenAI's chat completions and embeddings API
(OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server, TGI, ...)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from aifactory.errors import UpstreamAuthError, UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from aifactory.gateway.classify import classify_response, classify_stream_error
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

__all__ = ["OpenAIModel", "OpenAIProvider"]


class OpenAIModel:
    """One deployment on an OpenAI-compatible upstream."""

    def __init__(self, name: str, spec: DeploymentSpec, client: httpx.AsyncClient) -> None:
        self.name = name
        self.spec = spec
        self.client = client
        self.base_url = str(spec.base_url).rstrip("/")

    def _headers(self) -> dict[str, str]:
        env = self.spec.credentials_env
        if env is None:
            return {}
        key = os.environ.get(env)
        if not key:
            raise UpstreamAuthError(
                f"deployment {self.name}: the environment variable {env} that holds its API key is not set",
                deployment=self.name,
            )
        return {"Authorization": f"Bearer {key}"}

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            response = await self.client.post(
                f"{self.base_url}{path}",
                json=body,
                headers=self._headers(),
                timeout=self.spec.timeout_seconds,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(
                f"{self.name}: no answer within {self.spec.timeout_seconds}s", deployment=self.name
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(
                f"{self.name}: {type(exc).__name__}: {exc}", deployment=self.name
            ) from exc
        if response.status_code >= 400:
            raise classify_response(self.name, response.status_code, response.headers, response.content)
        return response

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion."""
        body = request.upstream_body(self.spec.upstream_model) | {"stream": False}
        data = _json(self.name, (await self._post("/chat/completions", body)).content)
        usage = data.get("usage") or {}
        return ChatResponse(
            choices=data.get("choices") or [],
            usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
            upstream_model=str(data.get("model") or self.spec.upstream_model),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as the upstream sends them, then the usage it reported (or our count)."""
        body = request.upstream_body(self.spec.upstream_model) | {
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        url = f"{self.base_url}/chat/completions"
        try:
            async with self.client.stream(
                "POST", url, json=body, headers=self._headers(), timeout=self.spec.timeout_seconds
            ) as response:
                if response.status_code >= 400:
                    content = await response.aread()
                    raise classify_response(self.name, response.status_code, response.headers, content)
                async for event in _sse_events(self.name, response):
                    yield event
        except UpstreamError:
            raise
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(
                f"{self.name}: stream stalled beyond {self.spec.timeout_seconds}s", deployment=self.name
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailableError(
                f"{self.name}: stream broken: {type(exc).__name__}", deployment=self.name
            ) from exc

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings from the upstream."""
        body = {"model": self.spec.upstream_model, "input": request.texts, "encoding_format": "float"}
        data = _json(self.name, (await self._post("/embeddings", body)).content)
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
        data = _json(name, payload.encode())
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


def _json(name: str, content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise UpstreamUnavailableError(f"{name}: the upstream sent malformed JSON", deployment=name) from exc
    if not isinstance(data, dict):
        raise UpstreamUnavailableError(f"{name}: the upstream sent a non-object JSON", deployment=name)
    return data


class OpenAIProvider:
    """Builds models for `openai` deployments, sharing one HTTP connection pool."""

    kind = "openai"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def model(self, name: str, spec: DeploymentSpec) -> OpenAIModel:
        """A model for one deployment."""
        return OpenAIModel(name, spec, self.client)
