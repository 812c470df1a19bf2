"""`client.gateway`: the model gateway's OpenAI-compatible routes and its run records.

    result = await client.gateway.chat("chat-default", "Hello", use_case="support", max_tokens=50)
    print(result.text, result.run_id)

    async with client.gateway.chat_stream("chat-default", "Hello") as stream:
        async for chunk in stream:
            print(delta_text(chunk), end="")
    record = await client.gateway.run(stream.run_id)

Governance context (`use_case`, `jurisdiction`, `surface`, `subject`) travels as `X-Aifactory-*`
headers. Errors, including an error event that ends a stream after content was sent, raise the
`aifactory.errors` tree.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from aifactory.client._http import Channel, present, segment
from aifactory.client._problems import error_from_event
from aifactory.errors import AifactoryError
from aifactory.retention.records import RunPayload

__all__ = ["MODEL_TIMEOUT", "RUN_HEADER", "ChatResult", "ChatStream", "GatewayApi", "delta_text"]

RUN_HEADER = "x-aifactory-run-id"
"""The response header naming the run record of a gateway call."""

MODEL_TIMEOUT = 3600.0
"""Seconds to wait for (the next part of) a model's answer. A route's own deadline is at most this,
and the server enforces it, so the client does not cut a slow model short."""

Messages = str | Sequence[Mapping[str, Any]]
"""Chat messages in OpenAI's shape, or one string as the single user message."""


@dataclass(frozen=True)
class ChatResult:
    """A whole completion (OpenAI's `chat.completion` JSON) and the id of the run that recorded it."""

    run_id: str
    completion: dict[str, Any]

    @property
    def text(self) -> str:
        """The first choice's message content (empty when it has none, as with a tool call)."""
        choices = self.completion.get("choices") or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")


def delta_text(chunk: Mapping[str, Any]) -> str:
    """The content a `chat.completion.chunk` adds (empty for role, usage or tool-call chunks)."""
    choices = chunk.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


def _messages(messages: Messages) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return [dict(message) for message in messages]


def _context(
    use_case: str | None, jurisdiction: str | None, surface: str | None, subject: str | None
) -> dict[str, str]:
    headers = {
        "X-Aifactory-Use-Case": use_case,
        "X-Aifactory-Jurisdiction": jurisdiction,
        "X-Aifactory-Surface": surface,
        "X-Aifactory-Subject": subject,
    }
    return present(headers)


def _model_timeout(channel: Channel) -> httpx.Timeout:
    return httpx.Timeout(MODEL_TIMEOUT, connect=channel.timeout.connect)


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event: its `data:` lines joined by newlines."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:
        yield "\n".join(data)


def _chunk(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise AifactoryError(f"the stream sent an event that is not JSON: {payload[:200]!r}") from None
    if not isinstance(event, dict):
        raise AifactoryError(f"the stream sent an event that is not an object: {payload[:200]!r}")
    if "error" in event:
        raise error_from_event(event["error"])
    return event


class ChatStream:
    """The chunks of a streamed completion as they arrive; `run_id` is set once the response starts.

    Iterate it with `async for`. It ends at the server's `[DONE]`; an error event, or a stream cut
    before `[DONE]`, raises. Close it (`aclose()` or `async with`) to stop early.
    """

    def __init__(self, channel: Channel, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.run_id: str | None = None
        self._chunks = self._read(channel, body, headers)

    async def _read(
        self, channel: Channel, body: dict[str, Any], headers: dict[str, str]
    ) -> AsyncGenerator[dict[str, Any], None]:
        timeout = _model_timeout(channel)
        path = "/v1/chat/completions"
        async with channel.stream("POST", path, json=body, headers=headers, timeout=timeout) as response:
            self.run_id = response.headers.get(RUN_HEADER)
            async for payload in _sse_data(response.aiter_lines()):
                if payload.strip() == "[DONE]":
                    return
                yield _chunk(payload)
        raise AifactoryError(f"the stream of run {self.run_id} ended before [DONE]: the answer is incomplete")

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await anext(self._chunks)

    async def aclose(self) -> None:
        """Stop reading and close the response."""
        await self._chunks.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class GatewayApi:
    """Chat, streamed chat, embeddings and the served routes; `route` is a route alias."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def chat(
        self,
        route: str,
        messages: Messages,
        *,
        use_case: str | None = None,
        jurisdiction: str | None = None,
        surface: str | None = None,
        subject: str | None = None,
        **params: Any,
    ) -> ChatResult:
        """A whole completion; `params` are OpenAI's (`max_tokens`, `temperature`, `tools`, ...)."""
        body = {**params, "model": route, "messages": _messages(messages), "stream": False}
        response = await self._channel.request(
            "POST",
            "/v1/chat/completions",
            json=body,
            headers=_context(use_case, jurisdiction, surface, subject),
            timeout=_model_timeout(self._channel),
        )
        try:
            completion = response.json()
        except ValueError as exc:
            raise AifactoryError(f"unexpected response from POST /v1/chat/completions: {exc}") from exc
        return ChatResult(response.headers.get(RUN_HEADER, ""), completion)

    def chat_stream(
        self,
        route: str,
        messages: Messages,
        *,
        use_case: str | None = None,
        jurisdiction: str | None = None,
        surface: str | None = None,
        subject: str | None = None,
        **params: Any,
    ) -> ChatStream:
        """A streamed completion: iterate the chunks (the request is sent on the first)."""
        body = {**params, "model": route, "messages": _messages(messages), "stream": True}
        return ChatStream(self._channel, body, _context(use_case, jurisdiction, surface, subject))

    async def embeddings(
        self,
        route: str,
        inputs: str | Sequence[str],
        *,
        use_case: str | None = None,
        jurisdiction: str | None = None,
        surface: str | None = None,
        subject: str | None = None,
    ) -> list[list[float]]:
        """One vector per input, in order."""
        body = {"model": route, "input": [inputs] if isinstance(inputs, str) else list(inputs)}
        return await self._channel.parse(
            _vectors,
            "POST",
            "/v1/embeddings",
            json=body,
            headers=_context(use_case, jurisdiction, surface, subject),
            timeout=_model_timeout(self._channel),
        )

    async def models(self) -> list[str]:
        """The route aliases the gateway serves now."""
        return await self._channel.parse(_model_ids, "GET", "/v1/models")

    async def run(self, run_id: str) -> dict[str, Any]:
        """A run record: route, deployment, attempts, latency, tokens, cost (never prompt text)."""
        return await self._channel.parse(dict, "GET", f"/v1/runs/{segment(run_id)}")

    async def payload(self, run_id: str) -> RunPayload:
        """What a run sent and got back, decrypted (`GoneError` once purged or erased)."""
        return await self._channel.one(RunPayload, "GET", f"/v1/runs/{segment(run_id)}/payload")


def _vectors(body: Any) -> list[list[float]]:
    items = sorted(body["data"], key=lambda item: item["index"])
    return [[float(x) for x in item["embedding"]] for item in items]


def _model_ids(body: Any) -> list[str]:
    return [str(model["id"]) for model in body["data"]]
