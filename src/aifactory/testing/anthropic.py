"""Anthropic's Messages API as the fake provider speaks it: `POST /v1/messages`, whole and streamed.

The request is checked as Anthropic checks it, as far as a client's translation can go wrong: the
`anthropic-version` header, a `max_tokens`, only `user` and `assistant` turns, a temperature of at
most 1, and every `tool_result` answering a `tool_use` of the turn just before (and every `tool_use`
answered in the turn after). The answer is the OpenAI side's (`aifactory.testing.replies`): the same
echo, tool calls and word-count usage, as `text` and `tool_use` blocks. Errors have Anthropic's body,
`{"type": "error", "error": {"type": "overloaded_error", "message": ...}}`, typed by status (529 and
503: `overloaded_error`, other 5xx: `api_error`, 429: `rate_limit_error`, 401: `authentication_error`).

A stream is `message_start`, `content_block_start`, `ping`, the deltas (`text_delta`, or per tool
call an empty then word-by-word `input_json_delta`), `content_block_stop`, `message_delta` (stop
reason and output tokens), `message_stop`. Its first content is the first `text_delta` (event 3),
or in a tool-call answer the first `tool_use` block's start (event 1). An injected error event is
`event: error` with an `overloaded_error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aifactory.errors import InvalidInputError
from aifactory.testing import _http
from aifactory.testing.faults import ErrorShape
from aifactory.testing.replies import Answer, split_tokens, text_of
from aifactory.testing.streaming import Sse
from aifactory.testing.wire import Wire, bearer

__all__ = ["ANTHROPIC"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_MESSAGES = {
    "context_length_exceeded": "prompt is too long: 200001 tokens > 200000 maximum (injected fault).",
    "content_filter": "Output blocked by content filtering policy (injected fault).",
    "invalid_api_key": "invalid x-api-key (injected fault).",
}
_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_GARBAGE = b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {"text": \n\n'


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError(message, param=None)


# --- requests -------------------------------------------------------------------------------------


def _read(request: _http.Request, body: Any) -> dict[str, Any]:
    if not request.headers.get("anthropic-version"):
        raise _invalid("anthropic-version: header is required")
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _invalid("model: Field required")
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise _invalid("max_tokens: Field required (an integer of at least 1)")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 1):
        raise _invalid("temperature: Input should be less than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), str | list):
            raise _invalid(f"messages.{index}.content: Field required")
    _check_tool_results(messages)
    return _as_openai(body)


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    return (
        [b for b in content if isinstance(b, dict) and b.get("type") == kind]
        if isinstance(content, list)
        else []
    )


def _check_tool_results(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else {}
        asked = {b.get("id") for b in _blocks(previous, "tool_use")}
        answered = {b.get("tool_use_id") for b in _blocks(message, "tool_result")}
        if answered - asked:
            raise _invalid(
                f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(sorted(map(str, answered - asked)))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        if index and asked - answered:
            raise _invalid(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(sorted(map(str, asked - answered)))}"
            )


def _as_openai(body: dict[str, Any]) -> dict[str, Any]:
    """The request in the shape `replies.answer` reads: tool results as `tool` messages."""
    system = text_of(body.get("system"))
    messages = [{"role": "system", "content": system}] if system else []
    for message in body["messages"]:
        messages += [
            {"role": "tool", "content": text_of(b.get("content"))} for b in _blocks(message, "tool_result")
        ]
        texts = text_of(message["content"])
        if texts or not _blocks(message, "tool_result"):
            messages.append({"role": message["role"], "content": texts})
    shaped: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    if tools:
        shaped["tools"] = [
            {"type": "function", "function": {"name": t.get("name"), "parameters": t.get("input_schema")}}
            for t in tools
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        named = {"type": "function", "function": {"name": choice.get("name")}}
        shaped["tool_choice"] = _CHOICES.get(str(choice.get("type")), named)
    return shaped


# --- answers --------------------------------------------------------------------------------------


def _tool_id(call: dict[str, Any]) -> str:
    return str(call["id"]).replace("call_", "toolu_", 1)


def _content(result: Answer) -> list[dict[str, Any]]:
    if not result.tool_calls:
        return [{"type": "text", "text": result.content or ""}]
    return [
        {
            "type": "tool_use",
            "id": _tool_id(c),
            "name": c["function"]["name"],
            "input": json.loads(c["function"]["arguments"]),
        }
        for c in result.tool_calls
    ]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _message(body: dict[str, Any], result: Answer, number: int, *, streamed: bool = False) -> dict[str, Any]:
    return {
        "id": f"msg_fake{number}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [] if streamed else _content(result),
        "stop_reason": None if streamed else _STOP[result.finish_reason],
        "stop_sequence": None,
        "usage": _usage(result.prompt_tokens, 1 if streamed else result.completion_tokens),
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (payload["type"].encode(), json.dumps(payload).encode())


def _block_events(index: int, block: dict[str, Any], pieces: list[str]) -> list[dict[str, Any]]:
    start: dict[str, Any]
    if block["type"] == "text":
        start, kind, field = {"type": "text", "text": ""}, "text_delta", "text"
    else:
        start, kind, field = {**block, "input": {}}, "input_json_delta", "partial_json"
        pieces = ["", *pieces]
    deltas = [
        {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: p}} for p in pieces
    ]
    start_event = {"type": "content_block_start", "index": index, "content_block": start}
    return [start_event, *deltas, {"type": "content_block_stop", "index": index}]


def _stream(body: dict[str, Any], result: Answer, number: int) -> Sse:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": _message(body, result, number, streamed=True)}
    ]
    if result.tool_calls:
        for index, (call, block) in enumerate(zip(result.tool_calls, _content(result), strict=True)):
            events += _block_events(index, block, split_tokens(call["function"]["arguments"]))
    else:
        events += _block_events(0, {"type": "text"}, split_tokens(result.content or ""))
    events.insert(2, {"type": "ping"})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP[result.finish_reason], "stop_sequence": None},
            "usage": {"output_tokens": result.completion_tokens},
        }
    )
    events.append({"type": "message_stop"})
    first = 1 if result.tool_calls else min(3, len(events) - 2)
    error = _event(_error(ErrorShape(529, "Overloaded (injected fault).", "overloaded_error")))
    return Sse([_event(e) for e in events], first, error, _GARBAGE)


# --- errors ---------------------------------------------------------------------------------------


def _error(shape: ErrorShape) -> dict[str, Any]:
    kind = _TYPES.get(shape.status) or ("api_error" if shape.status >= 500 else "invalid_request_error")
    message = _MESSAGES.get(shape.code or "", shape.message)
    return {"type": "error", "error": {"type": kind, "message": message}}


def _too_long(tokens: int, window: int) -> ErrorShape:
    return ErrorShape(400, f"prompt is too long: {tokens} tokens > {window} maximum", "invalid_request_error")


def _key(headers: Mapping[str, str]) -> str | None:
    # Anthropic's own SDKs send the key as `x-api-key`, newer ones as a bearer token.
    return headers.get("x-api-key") or bearer(headers)


ANTHROPIC = Wire(
    name="anthropic",
    read=_read,
    whole=_message,
    stream=_stream,
    error=_error,
    too_long=_too_long,
    key=_key,
    request_id_header="request-id",
)
"""Anthropic's Messages API."""
