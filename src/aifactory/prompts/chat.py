"""A chat request built from a prompt: the OpenAI-compatible route's `prompt` field.

    {"model": "chat-default", "prompt": {"name": "support-reply", "variables": {...}},
     "messages": [{"role": "user", "content": "..."}]}

The rendered messages come first, then the caller's; the prompt's bound parameters, response format
and tools apply where the request sets none. The run records the version that was served.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from aifactory.errors import InvalidInputError
from aifactory.gateway.types import ChatRequest
from aifactory.prompts.resolution import Resolution, Selector
from aifactory.prompts.templates import RenderedPrompt
from aifactory.records import InputModel

__all__ = ["PromptCall", "build_chat", "prompt_use"]


class PromptCall(InputModel):
    """Which prompt a chat request is built from, and its variables."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
    label: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    hash: str | None = Field(default=None, pattern=r"^(sha256:)?[0-9a-f]{64}$")
    variables: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, raw: object) -> PromptCall:
        """Parse the request's `prompt` field; a bad one is a 400 naming the field."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("prompt", *first["loc"]))
            raise InvalidInputError(f"{where}: {first['msg']}") from None

    @property
    def selector(self) -> Selector:
        """The version it asks for."""
        return Selector(self.label, self.version, self.hash)


def build_chat(body: ChatRequest, found: Resolution, rendered: RenderedPrompt) -> ChatRequest:
    """The request to send: the rendered messages, then the caller's, with the prompt's defaults."""
    if rendered.messages is None:
        raise InvalidInputError(
            f"prompt {found.name!r} is a text prompt (a partial); a chat call needs a prompt with messages"
        )
    data = body.model_dump(exclude_none=True)
    data.pop("prompt", None)
    data["messages"] = [*rendered.messages, *data.get("messages", [])]
    spec = found.spec
    defaults: dict[str, Any] = spec.model.parameters.model_dump(exclude_none=True) if spec.model else {}
    if spec.response_format is not None:
        defaults["response_format"] = spec.response_format.model_dump(exclude_none=True, by_alias=True)
    if spec.tools:
        defaults["tools"] = [t.model_dump(exclude_none=True, by_alias=True) for t in spec.tools]
    return ChatRequest.model_validate(defaults | data)


def prompt_use(found: Resolution, rendered: RenderedPrompt) -> dict[str, Any]:
    """What the run records of the prompt: the exact version, and what its includes resolved to."""
    return {
        "name": found.name,
        "version": found.version,
        "content_hash": found.content_hash,
        "label": found.label,
        "canary": found.canary,
        "includes": dict(rendered.includes),
    }
