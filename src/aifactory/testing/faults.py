"""Faults: what one request to the fake provider suffers, written as a short spec.

A spec is a comma-separated list of items, each `kind` or `kind:value`; all items apply together
(e.g. `slow_first_token:0.2, cut_after:3`). The same syntax serves the `X-Fake-Fault` request header
and the steps of a server-side plan.

| item | value (default) | what the client sees |
| --- | --- | --- |
| `NNN` (400-599) | Retry-After secs (429: `1`, others none; `none`: omit) | that status, OpenAI error body |
| `auth` | - | 401, code `invalid_api_key` |
| `bad_request` | - | 400, type `invalid_request_error` |
| `context_window` | - | 400, code `context_length_exceeded` |
| `content_filter` | - | 400, code `content_filter` |
| `refuse` | - | the request is read, then the connection is reset (TCP RST), no response |
| `disconnect` | - | the request is read, then the connection is closed (FIN), no response |
| `stall` | seconds (`10`) | no response; closed after the seconds, or as soon as the client hangs up |
| `slow` | seconds (`1`) | the whole response (status line included) comes late |
| `slow_first_token` | seconds (`1`) | stream: headers at once, the first chunk late; non-stream: as `slow` |
| `token_delay` | seconds | stream: this pause before every chunk after the first |
| `cut_after` | chunks (`1`) | stream: that many `data:` events, then the connection closes mid-body |
| `malformed_sse` | chunks (`1`) | stream: a `data:` event that is not JSON after that many events |
| `error_event_after_first_chunk` | - | stream: first content chunk, `data: {"error": ...}`, no `[DONE]` |
| `tool_call` | tool name (the first tool) | the reply calls that tool (the request must offer `tools`) |
| `chunk_chars` | characters (`1`) | stream (OpenAI wire): text in pieces of so many characters, not words |
| `ok` | - | nothing: a normal answer |

Stream events are counted from the first `data:` event; in a text answer it carries only the assistant's
role (no content yet), in a tool-call answer the first call's id and name.

On Anthropic's route (`POST /v1/messages`) the same faults come in its wire format: errors in its
body, typed by status, and stream events counted from `message_start` (see `aifactory.testing.anthropic`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aifactory.errors import InvalidInputError

__all__ = ["ERRORS", "NO_FAULTS", "ErrorShape", "Faults", "error_shape", "parse_faults"]

MAX_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """One OpenAI error response: its status and the fields of `{"error": {...}}`."""

    status: int
    message: str
    type: str
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI sends for this error."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


ERRORS: dict[str, ErrorShape] = {
    "429": ErrorShape(
        429, "Rate limit reached for requests (injected fault).", "requests", None, "rate_limit_exceeded"
    ),
    "500": ErrorShape(
        500, "The server had an error while processing your request. Sorry about that!", "server_error"
    ),
    "503": ErrorShape(503, "The server is overloaded or not ready yet.", "server_error"),
    "auth": ErrorShape(
        401, "Incorrect API key provided (injected fault).", "invalid_request_error", None, "invalid_api_key"
    ),
    "bad_request": ErrorShape(400, "Invalid request (injected fault).", "invalid_request_error"),
    "context_window": ErrorShape(
        400,
        "This model's maximum context length is exceeded by your messages. "
        "Please reduce the length of the messages (injected fault).",
        "invalid_request_error",
        "messages",
        "context_length_exceeded",
    ),
    "content_filter": ErrorShape(
        400,
        "The response was filtered due to the prompt triggering content management policy (injected fault).",
        "invalid_request_error",
        "prompt",
        "content_filter",
    ),
}


def error_shape(kind: str) -> ErrorShape:
    """The error for a named kind (`auth`...) or any status code written as three digits."""
    if kind in ERRORS:
        return ERRORS[kind]
    status = int(kind)
    kind_of = "server_error" if status >= 500 else "invalid_request_error"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # not in the standard (Anthropic's 529, Cloudflare's 52x...)
        phrase = "Overloaded" if status == 529 else f"Error {status}"
    return ErrorShape(status, f"{phrase} (injected fault).", kind_of)


@dataclass(frozen=True, slots=True)
class Faults:
    """The parsed form of a spec; the defaults mean a normal, prompt answer."""

    spec: str = ""
    error: str | None = None
    retry_after: float | None = None
    refuse: bool = False
    disconnect: bool = False
    stall: float | None = None
    slow: float = 0.0
    slow_first_token: float = 0.0
    token_delay: float | None = None
    cut_after: int | None = None
    malformed_after: int | None = None
    error_event: bool = False
    tool_call: str | None = None
    chunk_chars: int | None = None

    @property
    def has_stream_faults(self) -> bool:
        """Whether the stream must be written event by event rather than in one write."""
        return bool(self.slow_first_token or self.token_delay or self.error_event) or (
            self.cut_after is not None or self.malformed_after is not None
        )


NO_FAULTS = Faults()


def _seconds(value: str, default: float | None) -> float:
    if not value:
        if default is None:
            raise ValueError("needs a number of seconds")
        return default
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be between 0 and {MAX_SECONDS:g}")
    return seconds


def _count(value: str) -> int:
    count = int(value) if value else 1
    if count < 0:
        raise ValueError("a chunk count cannot be negative")
    return count


def _status(kind: str, value: str) -> dict[str, Any]:
    if not 400 <= int(kind) <= 599:
        raise ValueError("a status fault must be between 400 and 599")
    if value == "none":
        retry_after = None
    elif value:
        retry_after = _seconds(value, None)
    else:
        retry_after = 1.0 if kind == "429" else None
    return {"error": kind, "retry_after": retry_after}


def _flag(field: str, flag: Any = True) -> Callable[[str], dict[str, Any]]:
    def parse(value: str) -> dict[str, Any]:
        if value:
            raise ValueError("takes no value")
        return {field: flag}

    return parse


_ITEMS: dict[str, Callable[[str], dict[str, Any]]] = {
    **{name: _flag("error", name) for name in ("auth", "bad_request", "context_window", "content_filter")},
    "refuse": _flag("refuse"),
    "disconnect": _flag("disconnect"),
    "error_event_after_first_chunk": _flag("error_event"),
    "ok": lambda value: {},
    "stall": lambda value: {"stall": _seconds(value, 10.0)},
    "slow": lambda value: {"slow": _seconds(value, 1.0)},
    "slow_first_token": lambda value: {"slow_first_token": _seconds(value, 1.0)},
    "token_delay": lambda value: {"token_delay": _seconds(value, None)},
    "cut_after": lambda value: {"cut_after": _count(value)},
    "malformed_sse": lambda value: {"malformed_after": _count(value)},
    "tool_call": lambda value: {"tool_call": value},
    "chunk_chars": lambda value: {"chunk_chars": max(1, _count(value))},
}


def _item(item: str) -> dict[str, Any]:
    kind, _, value = item.partition(":")
    kind, value = kind.strip(), value.strip()
    try:
        if kind.isdigit() and len(kind) == 3:
            return _status(kind, value)
        if kind not in _ITEMS:
            raise ValueError(f"unknown kind; known: NNN, {', '.join(sorted(_ITEMS))}")
        return _ITEMS[kind](value)
    except ValueError as exc:
        raise InvalidInputError(f"fault {item!r}: {exc}") from exc


def parse_faults(spec: str | None) -> Faults:
    """The faults a spec asks for (`None` or `""` asks for none); `InvalidInputError` if malformed."""
    if not spec or not spec.strip():
        return NO_FAULTS
    fields: dict[str, Any] = {}
    for item in spec.split(","):
        if item.strip():
            fields.update(_item(item))
    return dataclasses.replace(NO_FAULTS, spec=spec.strip(), **fields)
