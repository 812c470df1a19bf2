"""`FakeSettings`: how the fake provider behaves when no fault says otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from aifactory.errors import ConfigurationError
from aifactory.testing.embeddings import MAX_DIMENSIONS

__all__ = ["FakeSettings"]


@dataclass(frozen=True, slots=True)
class FakeSettings:
    """How a fake provider behaves when no fault says otherwise."""

    port: int = 0
    """The port on 127.0.0.1; 0 picks a free one."""
    reply: str | None = None
    """The text of every answer; `None` echoes: `echo: <last user message>`."""
    models: tuple[str, ...] = ("fake-chat", "fake-embedding")
    """The ids `GET /v1/models` lists (every model name is served regardless)."""
    dimensions: int = 16
    """Embedding size when the request gives no `dimensions`."""
    token_delay: float = 0.0
    """Seconds between stream chunks (the `token_delay` fault overrides it per request)."""
    context_window: int = 100_000
    """Prompt tokens (words) beyond which a chat fails with `context_length_exceeded`."""
    api_key: str | None = None
    """When set, `/v1` requests must carry `Authorization: Bearer <api_key>` (Anthropic's route:
    `x-api-key: <api_key>`) or get 401."""
    max_calls: int = 1000
    """How many recent calls the log keeps."""
    max_delay: float = 60.0
    """Upper bound, in seconds, of any stall, slow answer or token delay."""

    def __post_init__(self) -> None:
        problems = [
            f"{name} is {value!r}"
            for name, value, ok in (
                ("port", self.port, 0 <= self.port <= 65535),
                ("dimensions", self.dimensions, 1 <= self.dimensions <= MAX_DIMENSIONS),
                ("token_delay", self.token_delay, self.token_delay >= 0),
                ("context_window", self.context_window, self.context_window >= 0),
                ("max_calls", self.max_calls, self.max_calls >= 0),
                ("max_delay", self.max_delay, self.max_delay >= 0),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"bad fake provider settings: {', '.join(problems)}")
