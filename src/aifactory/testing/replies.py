"""What the fake provider answers: deterministic OpenAI payloads derived from the request.

The reply is `echo: <text of the last user message>`, or the configured reply; there is always one
choice (`n` is ignored), and `max_tokens` / `max_completion_tokens` cut the reply to that many words
(`finish_reason: "length"`). Token counts follow one
rule, so tests can predict usage: a token is a whitespace-separated word.

- `prompt_tokens`: the words of every message's text (string content, and the `text` of content parts);
- `completion_tokens`: the words of the reply; for tool calls, per call one for its name plus the
  words of its arguments JSON (written with `json.dumps` defaults, so `{"a": 1}` is two words);
- embeddings: the words of every input (a list of token ids counts its ids).

Tool calls: when the request offers `tools` (and `tool_choice` is not `"none"`), the last message is
the user's and it names one or more of the tools, the answer calls each tool named, in the order of
`tools`. `tool_choice` naming a function, or `"required"`, or the `tool_call` fault force a call.
Arguments are sampled from each tool's JSON schema: its required properties (all of them when it
lists none), strings `"fake"`, numbers `1`, booleans `true`, arrays `[]`, the first `enum` value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aifactory.errors import InvalidInputError

__all__ = [
    "Answer",
    "answer",
    "completion",
    "prompt_tokens",
    "split_tokens",
    "stream_events",
    "text_of",
    "validate_chat",
]

_PIECE = re.compile(r"\s*\S+")
_FINGERPRINT = "fp_fake"


@dataclass(frozen=True, slots=True)
class Answer:
    """The assistant's side of one chat completion, before it is put on the wire."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    chunk_chars: int | None = None
    """Stream the text in pieces of this many characters (the `chunk_chars` fault) instead of words."""

    def usage(self) -> dict[str, int]:
        """OpenAI's `usage` object."""
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the `text` parts of a list, joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def split_tokens(text: str) -> list[str]:
    """The text cut into tokens that concatenate back to it: a word with the whitespace before it."""
    pieces = _PIECE.findall(text)
    tail = text[sum(map(len, pieces)) :]
    if tail and pieces:
        pieces[-1] += tail
    elif tail:
        pieces = [tail]
    return pieces


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The prompt's token count under the word rule."""
    return sum(len(text_of(message.get("content")).split()) for message in messages)


def _sample(schema: Any, depth: int = 0) -> Any:
    """A value that satisfies a simple JSON schema."""
    if not isinstance(schema, dict) or depth > 8:
        return "fake"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _sample(schema[key][0], depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        names = schema.get("required", list(properties))
        return {name: _sample(properties.get(name), depth + 1) for name in names}
    simple = {"array": [], "integer": 1, "number": 1, "boolean": True, "null": None}
    return simple.get(kind, "fake")


def _chosen_tools(body: dict[str, Any], text: str, forced: str | None) -> list[dict[str, Any]]:
    """The function definitions this request's answer calls (empty for a text answer)."""
    functions = [
        tool["function"]
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    ]
    choice = body.get("tool_choice", "auto")
    if not functions or choice == "none":
        return []
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name", "")
    if forced is not None:
        named = [f for f in functions if f.get("name") == forced]
        return named or functions[:1]
    last = body["messages"][-1]
    mentioned = [f for f in functions if last.get("role") == "user" and str(f.get("name")) in text]
    return mentioned or (functions[:1] if choice == "required" else [])


def _tool_call(function: dict[str, Any], call_id: str) -> dict[str, Any]:
    arguments = json.dumps(_sample(function.get("parameters", {"type": "object"})))
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": function.get("name"), "arguments": arguments},
    }


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def _limit(body: dict[str, Any]) -> int | None:
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0 else None


def answer(body: dict[str, Any], *, reply: str | None, tool_call: str | None, number: int) -> Answer:
    """The answer to a validated chat request: a tool call, or the reply (cut at `max_tokens` words)."""
    messages: list[dict[str, Any]] = body["messages"]
    prompt = prompt_tokens(messages)
    user_text = _last_user_text(messages)
    tools = _chosen_tools(body, user_text, tool_call)
    if tools:
        calls = [_tool_call(f, f"call_fake{number}_{i}") for i, f in enumerate(tools)]
        used = sum(1 + len(c["function"]["arguments"].split()) for c in calls)
        return Answer(None, calls, "tool_calls", prompt, used)
    text = f"echo: {user_text}" if reply is None else reply
    pieces, limit = split_tokens(text), _limit(body)
    if limit is not None and limit < len(text.split()):
        return Answer("".join(pieces[:limit]), [], "length", prompt, limit)
    return Answer(text, [], "stop", prompt, len(text.split()))


def completion(body: dict[str, Any], result: Answer, *, ident: str, created: int) -> dict[str, Any]:
    """A non-streaming `chat.completion`."""
    message: dict[str, Any] = {"role": "assistant", "content": result.content, "refusal": None}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": body["model"],
        "choices": [choice],
        "usage": result.usage(),
        "system_fingerprint": _FINGERPRINT,
    }


def _deltas(result: Answer) -> list[dict[str, Any]]:
    """The `delta` of every chunk before the final one, as OpenAI splits them."""
    if not result.tool_calls:
        text = result.content or ""
        size = result.chunk_chars
        pieces = [text[i : i + size] for i in range(0, len(text), size)] if size else split_tokens(text)
        return [{"role": "assistant", "content": "", "refusal": None}] + [{"content": p} for p in pieces]
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(result.tool_calls):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        deltas.append({"tool_calls": [head]})
        deltas += [
            {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            for piece in split_tokens(call["function"]["arguments"])
        ]
    deltas[0] = {"role": "assistant", "content": None, "refusal": None, **deltas[0]}
    return deltas


def stream_events(
    body: dict[str, Any], result: Answer, *, ident: str, created: int
) -> tuple[list[bytes], int]:
    """The JSON of every `chat.completion.chunk` event (`[DONE]` not included), and the index of the
    first event that carries content or a tool call."""
    include_usage = (body.get("stream_options") or {}).get("include_usage") is True
    base: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": body["model"],
        "system_fingerprint": _FINGERPRINT,
    }
    if include_usage:
        base["usage"] = None
    deltas = _deltas(result)
    finishes: list[str | None] = [None] * len(deltas) + [result.finish_reason]
    events = [
        json.dumps(
            {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": end}]}
        )
        for delta, end in zip([*deltas, {}], finishes, strict=True)
    ]
    if include_usage:
        events.append(json.dumps({**base, "choices": [], "usage": result.usage()}))
    first_content = 0 if result.tool_calls else min(1, len(deltas) - 1)
    return [event.encode() for event in events], first_content


def validate_chat(body: Any) -> dict[str, Any]:
    """The body of a chat request, checked as far as the fake needs; `InvalidInputError` otherwise."""
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object.", param=None)
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidInputError("you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise InvalidInputError("'messages' must be a non-empty array of message objects.", param="messages")
    return body
