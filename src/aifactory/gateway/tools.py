"""Checks on the tools a chat request declares, before anything reaches a model.

An upstream that gets a malformed tool answers with a 400 of its own wording, after the call was
admitted, priced and perhaps retried; some pass it to the model and fail later. The gateway refuses
it first, naming the tool and the field. Function tools are checked fully: a name upstreams accept
and `parameters` that is a JSON Schema of an object (checked against its meta-schema with
`jsonschema`). Tools of other types (OpenAI's newer `custom` tools) pass through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

__all__ = ["check_tool_call_ids", "check_tools"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_tools(tools: list[Any]) -> None:
    """Raise ValueError naming the first malformed tool (`tools[i]...: what is wrong`)."""
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise ValueError(f"{where} must be an object")
        kind = tool.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f'{where}.type is required (e.g. "function")')
        if kind == "function":
            _check_function(where, tool.get("function"))


def _check_function(where: str, function: Any) -> None:
    if not isinstance(function, dict):
        raise ValueError(f"{where}.function must be an object with a name")
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}.function.name must be 1-64 letters, digits, _ or - (got {name!r:.80})")
    description = function.get("description")
    if description is not None and not isinstance(description, str):
        raise ValueError(f"{where}.function.description must be a string")
    schema = function.get("parameters")
    if schema is None:
        return
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise ValueError(f'{where}.function.parameters must be a JSON Schema with "type": "object"')
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        at = "/".join(str(part) for part in exc.path) or "its root"
        raise ValueError(
            f"{where}.function.parameters is not a valid JSON Schema at {at}: {exc.message}"
        ) from None


def check_tool_call_ids(messages: list[Any]) -> None:
    """Raise ValueError when a `tool` message does not say which call it answers."""
    for index, message in enumerate(messages):
        if message.role == "tool" and not message.tool_call_id:
            raise ValueError(f"messages[{index}] has role tool but no tool_call_id (the call it answers)")
