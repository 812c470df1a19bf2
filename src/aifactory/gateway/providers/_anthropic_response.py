"""Anthropic Messages API answers translated into OpenAI's chat shapes, whole and streamed.

Text blocks become the message's `content`, `tool_use` blocks its `tool_calls` (arguments as a JSON
string); `stop_reason` becomes `finish_reason`; `input_tokens` (plus cache reads and writes, which
OpenAI counts in the prompt) and `output_tokens` become the usage. Thinking blocks are not passed on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from aifactory.errors import UpstreamUnavailableError
from aifactory.gateway.classify import classify_stream_error
from aifactory.gateway.providers._upstream import json_object
from aifactory.gateway.types import ChatResponse, Delta, StreamEnd, StreamEvent, Usage

__all__ = ["chat_response", "stream_events"]

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_PROMPT_COUNTS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _finish(stop_reason: Any) -> str | None:
    return None if not stop_reason else _FINISH.get(str(stop_reason), "stop")


def _count(usage: dict[str, Any], *keys: str) -> int:
    return sum(int(usage.get(key) or 0) for key in keys)


def chat_response(data: dict[str, Any], default_model: str) -> ChatResponse:
    """A whole `message` as an OpenAI completion."""
    blocks = [b for b in data.get("content") or () if isinstance(b, dict)]
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    usage = data.get("usage") or {}
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _finish(data.get("stop_reason")),
    }
    return ChatResponse(
        choices=[choice],
        usage=Usage(_count(usage, *_PROMPT_COUNTS), _count(usage, "output_tokens")),
        upstream_model=str(data.get("model") or default_model),
    )


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input") or {})
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {"name": block.get("name"), "arguments": arguments},
    }


def _index(data: dict[str, Any]) -> int:
    index = data.get("index")
    return index if isinstance(index, int) else 0


def _chunk(delta: dict[str, Any], finish: str | None = None) -> Delta:
    return Delta([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])


class _Translation:
    """The state of one stream: which content block is which tool call, the usage so far."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tools: dict[int, int] = {}  # content block index -> OpenAI tool call index
        self.prompt = self.completion = 0
        self.finish: str | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], StreamEvent | None]] = {
            "message_start": self.message_start,
            "content_block_start": self.block_start,
            "content_block_delta": self.block_delta,
            "message_delta": self.message_delta,
            "message_stop": self.message_stop,
            "error": self.error,
        }

    def feed(self, data: dict[str, Any]) -> StreamEvent | None:
        """The OpenAI event for one Anthropic event (None for `ping`, `content_block_stop`, and
        event types Anthropic may add later)."""
        handler = self.handlers.get(str(data.get("type")))
        return None if handler is None else handler(data)

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.prompt = max(self.prompt, _count(usage, *_PROMPT_COUNTS))
            self.completion = max(self.completion, _count(usage, "output_tokens"))

    def message_start(self, data: dict[str, Any]) -> StreamEvent:
        self._usage((data.get("message") or {}).get("usage"))
        return _chunk({"role": "assistant", "content": ""})

    def block_start(self, data: dict[str, Any]) -> StreamEvent | None:
        block = data.get("content_block") or {}
        if block.get("type") == "text":
            return _chunk({"content": block["text"]}) if block.get("text") else None
        if block.get("type") != "tool_use":
            return None
        index = self.tools[_index(data)] = len(self.tools)
        function = {"name": block.get("name"), "arguments": ""}
        return _chunk(
            {
                "tool_calls": [
                    {"index": index, "id": block.get("id"), "type": "function", "function": function}
                ]
            }
        )

    def block_delta(self, data: dict[str, Any]) -> StreamEvent | None:
        delta = data.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            return _chunk({"content": delta["text"]})
        tool = self.tools.get(_index(data))
        if delta.get("type") == "input_json_delta" and delta.get("partial_json") and tool is not None:
            return _chunk({"tool_calls": [{"index": tool, "function": {"arguments": delta["partial_json"]}}]})
        return None

    def message_delta(self, data: dict[str, Any]) -> StreamEvent:
        self._usage(data.get("usage"))
        self.finish = _finish((data.get("delta") or {}).get("stop_reason")) or self.finish
        return _chunk({}, self.finish)

    def message_stop(self, data: dict[str, Any]) -> StreamEvent:
        return StreamEnd(Usage(self.prompt, self.completion), self.finish)

    def error(self, data: dict[str, Any]) -> StreamEvent:
        raise classify_stream_error(self.name, data.get("error"))


async def stream_events(name: str, response: httpx.Response) -> AsyncIterator[StreamEvent]:
    """OpenAI deltas from Anthropic's server-sent events, then exactly one `StreamEnd` at
    `message_stop`; a stream that ends before it was cut off."""
    translation = _Translation(name)
    async for line in response.aiter_lines():
        if not line or line.startswith((":", "event:", "id:", "retry:")):
            continue  # the event name is repeated as the data's `type`
        if not line.startswith("data:"):
            raise UpstreamUnavailableError(f"{name}: malformed stream line {line[:80]!r}", deployment=name)
        event = translation.feed(json_object(name, line[5:].strip().encode()))
        if event is not None:
            yield event
        if isinstance(event, StreamEnd):
            return
    raise UpstreamUnavailableError(
        f"{name}: the stream ended without message_stop (cut off)", deployment=name
    )
