"""OpenAI chat requests translated into Anthropic Messages API requests.

System and developer messages become the top-level `system`; tool messages become `tool_result`
blocks in a user turn (consecutive turns of one role are merged, as Anthropic wants them); assistant
`tool_calls` become `tool_use` blocks; image parts become `image` blocks (data URLs as base64, web
URLs by reference). What has no Anthropic equivalent (`n` > 1, `logprobs`, `response_format`,
audio or file parts, a temperature above 1) is refused with `UpstreamBadRequestError`, never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aifactory.errors import UpstreamBadRequestError
from aifactory.gateway.specs import DeploymentSpec, RouteSpec
from aifactory.gateway.types import ChatRequest, Message

__all__ = ["DEFAULT_MAX_TOKENS", "messages_body"]

DEFAULT_MAX_TOKENS: int = RouteSpec.model_fields["default_max_tokens"].default
"""The output limit sent when neither the request nor the deployment sets one (Anthropic requires
one): the default of a route's `default_max_tokens`, the limit the gateway reserves the worst-case
cost for. A route that sets another one is not visible from here."""

_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_DATA_URL = re.compile(r"data:(?P<type>[\w/+.-]+);base64,(?P<data>.*)", re.DOTALL)
_TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}


def _refuse(name: str, what: str) -> UpstreamBadRequestError:
    """The error for a request the Messages API cannot express (raised before anything is sent)."""
    return UpstreamBadRequestError(f"{name}: the anthropic provider cannot translate {what}", deployment=name)


def messages_body(name: str, request: ChatRequest, spec: DeploymentSpec) -> dict[str, Any]:
    """The Messages API body for `request` on the deployment `name`."""
    extra = request.model_extra or {}
    _check_untranslatable(name, request, extra)
    system, turns = _conversation(name, request.messages)
    default = min(DEFAULT_MAX_TOKENS, spec.max_output_tokens or DEFAULT_MAX_TOKENS)
    body: dict[str, Any] = {
        "model": spec.upstream_model,
        "max_tokens": request.output_limit(default),
        "messages": turns,
    }
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    stop = _stop_sequences(name, extra.get("stop"))
    if stop:
        body["stop_sequences"] = stop
    if request.tools:
        body["tools"] = [_tool(name, tool) for tool in request.tools]
        choice = _tool_choice(name, request.tool_choice, extra.get("parallel_tool_calls"))
        if choice is not None:
            body["tool_choice"] = choice
    if isinstance(extra.get("user"), str) and extra["user"]:
        body["metadata"] = {"user_id": extra["user"]}
    return body


def _check_untranslatable(name: str, request: ChatRequest, extra: dict[str, Any]) -> None:
    if request.temperature is not None and request.temperature > 1:
        raise _refuse(name, f"temperature {request.temperature:g} (Anthropic accepts 0 to 1)")
    if isinstance(extra.get("n"), int) and extra["n"] > 1:
        raise _refuse(name, "n > 1 (Anthropic answers with one choice)")
    if extra.get("logprobs") or extra.get("top_logprobs"):
        raise _refuse(name, "logprobs (Anthropic does not return them)")
    response_format = extra.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type", "text") != "text":
        raise _refuse(name, f"response_format {response_format.get('type')!r}")


def _stop_sequences(name: str, stop: Any) -> list[str]:
    if stop is None:
        return []
    sequences = [stop] if isinstance(stop, str) else stop
    if not isinstance(sequences, list) or not all(isinstance(s, str) for s in sequences):
        raise _refuse(name, "stop that is neither a string nor a list of strings")
    return sequences


# --- messages -------------------------------------------------------------------------------------


def _conversation(name: str, messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """The `system` text and the user/assistant turns, same-role neighbours merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.append(_text(name, message.content))
            continue
        role, blocks = _turn(name, message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(text for text in system if text), [_compact(turn) for turn in turns]


def _compact(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn of one text block is sent as plain text."""
    blocks = turn["content"]
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": turn["role"], "content": blocks[0]["text"]}
    return turn


def _turn(name: str, message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        return "user", [_tool_result(name, message)]
    if message.role == "assistant":
        blocks = [{"type": "text", "text": text} for text in _texts(name, message.content) if text]
        return "assistant", blocks + [_tool_use(name, call) for call in message.tool_calls or ()]
    return "user", _user_blocks(name, message.content)


def _texts(name: str, content: str | list[dict[str, Any]] | None) -> list[str]:
    """The text of text (and refusal) parts; any other part is refused."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    texts = []
    for part in content:
        kind = part.get("type")
        if kind not in ("text", "refusal") or not isinstance(part.get(kind), str):
            raise _refuse(
                name, f"a content part of type {kind!r} (text everywhere, image_url in user messages)"
            )
        texts.append(part[kind])
    return texts


def _text(name: str, content: str | list[dict[str, Any]] | None) -> str:
    return "\n".join(_texts(name, content))


def _user_blocks(name: str, content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"type": "text", "text": content or ""}]
    blocks = []
    for part in content:
        if part.get("type") == "image_url":
            blocks.append(_image(name, part.get("image_url")))
        else:
            blocks += [{"type": "text", "text": text} for text in _texts(name, [part])]
    return blocks


def _image(name: str, image: Any) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise _refuse(name, "an image_url part without a url")
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    found = _DATA_URL.fullmatch(url)
    if found is None or found["type"] not in _IMAGE_TYPES:
        kinds = ", ".join(_IMAGE_TYPES)
        raise _refuse(name, f"an image that is not a web URL or a base64 data URL of {kinds}")
    return {"type": "image", "source": {"type": "base64", "media_type": found["type"], "data": found["data"]}}


def _tool_result(name: str, message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise _refuse(name, "a tool message without tool_call_id")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    texts = [text for text in _texts(name, message.content) if text]
    if len(texts) == 1:
        block["content"] = texts[0]
    elif texts:
        block["content"] = [{"type": "text", "text": text} for text in texts]
    return block


def _tool_use(name: str, call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not call.get("id") or not function.get("name"):
        raise _refuse(name, "a tool call without id, function name or arguments")
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise _refuse(name, f"tool call {call['id']}: arguments that are not a JSON object")
    return {"type": "tool_use", "id": call["id"], "name": function["name"], "input": arguments}


# --- tools ----------------------------------------------------------------------------------------


def _tool(name: str, tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") if tool.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not function.get("name"):
        raise _refuse(name, f"a tool of type {tool.get('type')!r} (only function tools)")
    translated = {
        "name": function["name"],
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        translated["description"] = function["description"]
    return translated


def _tool_choice(name: str, choice: str | dict[str, Any] | None, parallel: Any) -> dict[str, Any] | None:
    """OpenAI's tool_choice as Anthropic's: auto, none, required -> any, a named function -> tool."""
    translated: dict[str, Any] | None
    if choice is None:
        translated = None if parallel is not False else {"type": "auto"}
    elif isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise _refuse(name, f"tool_choice {choice!r}")
        translated = {"type": _TOOL_CHOICES[choice]}
    else:
        function = choice.get("function")
        if not isinstance(function, dict) or not function.get("name"):
            raise _refuse(name, "a tool_choice that names no function")
        translated = {"type": "tool", "name": function["name"]}
    if translated is not None and parallel is False and translated["type"] != "none":
        translated["disable_parallel_tool_use"] = True
    return translated
