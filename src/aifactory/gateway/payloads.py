"""What a call's payload holds: the request as it was sent upstream (after any redaction) and what
came back, whole or streamed. Sealed by `aifactory.retention`, never written in clear."""

from __future__ import annotations

from typing import Any

from aifactory.gateway.types import ChatRequest, ChatResponse, Delta, EmbeddingRequest

__all__ = ["Transcript", "chat_payload", "embedding_payload", "response_output"]

_SENT = {"messages", "tools", "tool_choice"}


def chat_payload(request: ChatRequest, output: dict[str, Any] | None) -> dict[str, Any]:
    """The payload of a chat call: the messages (and tools) sent, and the output (None: no answer)."""
    return {"request": request.model_dump(mode="json", exclude_none=True, include=_SENT), "output": output}


def embedding_payload(request: EmbeddingRequest) -> dict[str, Any]:
    """The payload of an embeddings call: the texts sent (vectors are not kept)."""
    return {"request": {"input": request.texts}, "output": None}


def response_output(response: ChatResponse) -> dict[str, Any]:
    """A whole completion's first choice: text, tool calls and finish reason."""
    choice = response.choices[0] if response.choices else {}
    message = choice.get("message") or {}
    return {
        "text": response.text,
        "tool_calls": list(message.get("tool_calls") or []),
        "finish_reason": choice.get("finish_reason"),
    }


class Transcript:
    """Collects a stream's first choice as it passes: the text concatenated, tool calls merged by
    index (id and name from their first chunk, arguments concatenated)."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None

    def add(self, delta: Delta) -> None:
        """Take in one chunk."""
        for choice in delta.choices:
            if choice.get("index", 0) != 0:
                continue
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            part = choice.get("delta") or {}
            if isinstance(part.get("content"), str):
                self.text.append(part["content"])
            for call in part.get("tool_calls") or []:
                self._merge(call)

    def _merge(self, call: dict[str, Any]) -> None:
        merged = self.tool_calls.setdefault(
            int(call.get("index", 0)),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        merged["id"] = merged["id"] or call.get("id")
        function = call.get("function") or {}
        merged["function"]["name"] += function.get("name") or ""
        merged["function"]["arguments"] += function.get("arguments") or ""

    def output(self) -> dict[str, Any]:
        """What the stream said, in the shape of `response_output`."""
        calls = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return {"text": "".join(self.text), "tool_calls": calls, "finish_reason": self.finish_reason}
