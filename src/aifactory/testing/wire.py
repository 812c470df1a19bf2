"""Wire formats the fake provider speaks for chat: how a request is read, and how answers, streams
and errors are written. `OPENAI` (`POST /v1/chat/completions`) is here; `ANTHROPIC`
(`POST /v1/messages`) is in `aifactory.testing.anthropic`.

Every wire reads its request into the one shape `replies.answer` works on (OpenAI's), so the answer,
the token rule and every fault are the same whatever the format.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aifactory.testing import _http
from aifactory.testing.faults import ErrorShape
from aifactory.testing.replies import Answer, completion, stream_events, validate_chat
from aifactory.testing.streaming import Sse

__all__ = ["OPENAI", "STREAM_ERROR", "Wire", "bearer"]


@dataclass(frozen=True, slots=True)
class Wire:
    """One vendor's chat wire format, as the fake speaks it."""

    name: str
    read: Callable[[_http.Request, Any], dict[str, Any]]
    """The request body checked (`InvalidInputError` if not) and put in OpenAI's shape."""
    whole: Callable[[dict[str, Any], Answer, int], dict[str, Any]]
    """The JSON of a whole answer (body as `read` gave it, the answer, the call's number)."""
    stream: Callable[[dict[str, Any], Answer, int], Sse]
    """The events of a streamed answer."""
    error: Callable[[ErrorShape], dict[str, Any]]
    """The JSON body of an error."""
    too_long: Callable[[int, int], ErrorShape]
    """The error for a prompt of so many tokens over a context window of so many."""
    key: Callable[[Mapping[str, str]], str | None]
    """The API key the request presents (from its lower-case headers)."""
    request_id_header: str
    """The response header that carries a request id."""


STREAM_ERROR = ErrorShape(500, "The server had an error while streaming (injected fault).", "server_error")
"""The payload of `data: {"error": ...}` that `error_event_after_first_chunk` sends on OpenAI's wire."""
_GARBAGE = b'data: {"id": "chatcmpl-garbage", "choices": [{"delta": {"content": \n\n'


def _data(payload: bytes) -> bytes:
    return b"data: %s\n\n" % payload


def _openai_stream(body: dict[str, Any], result: Answer, number: int) -> Sse:
    events, first = stream_events(body, result, ident=f"chatcmpl-fake{number}", created=int(time.time()))
    framed = [_data(event) for event in [*events, b"[DONE]"]]
    return Sse(framed, first, _data(json.dumps(STREAM_ERROR.body()).encode()), _GARBAGE)


def _openai_too_long(tokens: int, window: int) -> ErrorShape:
    message = (
        f"This model's maximum context length is {window} tokens. However, your messages resulted "
        f"in {tokens} tokens. Please reduce the length of the messages."
    )
    return ErrorShape(400, message, "invalid_request_error", "messages", "context_length_exceeded")


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer` header."""
    value = headers.get("authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


OPENAI = Wire(
    name="openai",
    read=lambda request, body: validate_chat(body),
    whole=lambda body, result, number: completion(
        body, result, ident=f"chatcmpl-fake{number}", created=int(time.time())
    ),
    stream=_openai_stream,
    error=ErrorShape.body,
    too_long=_openai_too_long,
    key=bearer,
    request_id_header="x-request-id",
)
