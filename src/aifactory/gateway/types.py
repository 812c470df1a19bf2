"""The gateway's own request and response shapes: OpenAI's chat wire format, typed where we read it.

Fields we do not interpret (tools, tool_choice, response_format, logprobs, seed...) pass through to
OpenAI-compatible upstreams untouched; providers that speak another protocol translate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aifactory.gateway.tools import check_tool_call_ids, check_tools

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Delta",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "Message",
    "StreamEnd",
    "StreamEvent",
    "Usage",
]


class Message(BaseModel):
    """One chat message (OpenAI shape). `content` may be text or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ChatRequest(BaseModel):
    """A chat completion request as a product team sends it (`model` is a route alias)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    messages: list[Message] = Field(default_factory=list)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    metadata: dict[str, str] | None = None

    @field_validator("tools")
    @classmethod
    def _tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        check_tools(tools or [])
        return tools

    @model_validator(mode="after")
    def _tool_results(self) -> ChatRequest:
        if not self.messages and "prompt" not in (self.model_extra or {}):
            raise ValueError("messages: send at least one message, or name a prompt (`prompt`)")
        check_tool_call_ids(self.messages)
        return self

    def output_limit(self, default: int) -> int:
        """The most output tokens this request may produce (for worst-case cost)."""
        return self.max_completion_tokens or self.max_tokens or default

    def upstream_body(self, upstream_model: str) -> dict[str, Any]:
        """The body for an OpenAI-compatible upstream: ours, with its model id, minus our metadata."""
        body = self.model_dump(exclude_none=True, exclude={"metadata"})
        body["model"] = upstream_model
        return body


@dataclass
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict[str, int]:
        """OpenAI's `usage` object."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class ChatResponse:
    """A whole completion: the OpenAI `choices` as the upstream gave them, and the usage."""

    choices: list[dict[str, Any]]
    usage: Usage
    upstream_model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The first choice's text content (empty for tool calls only)."""
        message = self.choices[0].get("message", {}) if self.choices else {}
        content = message.get("content")
        return content if isinstance(content, str) else ""


@dataclass
class Delta:
    """One streamed chunk's choices (OpenAI `chat.completion.chunk` choices)."""

    choices: list[dict[str, Any]]

    @property
    def has_content(self) -> bool:
        """Whether this chunk carries output a client would show (text or a tool call)."""
        for choice in self.choices:
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("tool_calls") or delta.get("refusal"):
                return True
        return False


@dataclass
class StreamEnd:
    """The end of a stream: the usage, counted by the upstream or by us."""

    usage: Usage
    finish_reason: str | None = None


StreamEvent = Delta | StreamEnd


class EmbeddingRequest(BaseModel):
    """An embeddings request (OpenAI shape; `model` is a route alias)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] | None = None

    @property
    def texts(self) -> list[str]:
        """The inputs as a list."""
        return [self.input] if isinstance(self.input, str) else list(self.input)


@dataclass
class EmbeddingResponse:
    """Vectors, one per input, and the usage."""

    vectors: list[list[float]]
    usage: Usage
