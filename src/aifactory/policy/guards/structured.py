"""Structured output: when a request asks for JSON (`response_format` of type `json_schema` with a
schema, or `json_object`), the output must be JSON (an object) valid against the schema.

The schema is checked before the call (a bad schema is the caller's 400); the output after it (an
invalid one is a 422 `GuardrailViolationError` with rule `json_schema`, naming the first error by its
path and keyword, never quoting the output). Only local `$ref`s resolve: no network at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing.exceptions
from jsonschema.protocols import Validator

from aifactory.errors import GuardrailViolationError, InvalidInputError
from aifactory.gateway.types import ChatRequest
from aifactory.policy.guards.findings import Findings

__all__ = ["JSON_RULE", "JsonExpectation", "expected_json"]

JSON_RULE = "json_schema"
"""The rule a violation names when the output is not the JSON the request asked for."""


@dataclass(frozen=True)
class JsonExpectation:
    """What the output must be: a JSON object, valid against `validator`'s schema when there is one."""

    validator: Validator | None = None

    def check(self, text: str, findings: Findings | None = None) -> None:
        """Raise GuardrailViolationError unless `text` is the JSON expected."""
        problem = self._problem(text)
        if problem is None:
            return
        if findings is not None:
            findings.block(JSON_RULE)
        raise GuardrailViolationError(
            f"the output is not the JSON the request asked for: {problem}", rule=JSON_RULE, direction="output"
        )

    def _problem(self, text: str) -> str | None:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return "not valid JSON"
        if self.validator is None:
            return None if isinstance(document, dict) else "not a JSON object"
        try:
            error = next(iter(self.validator.iter_errors(document)), None)
        except RecursionError:
            return "nested too deeply to validate"
        except referencing.exceptions.Unresolvable as unresolved:
            return f"the schema refers to {str(unresolved)[:200]}, which cannot be resolved"
        if error is None:
            return None
        expected = json.dumps(error.validator_value, ensure_ascii=False, default=str)
        return f"at {error.json_path}: fails {error.validator!r} {_short(expected)}"


def expected_json(request: ChatRequest) -> JsonExpectation | None:
    """The JSON the request's `response_format` asks for, or None; InvalidInputError for a format or
    schema that is malformed."""
    response_format = (request.model_extra or {}).get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("text", None) and isinstance(response_format, dict):
        return None
    if kind == "json_object":
        return JsonExpectation()
    if kind != "json_schema":
        raise InvalidInputError("response_format.type must be text, json_object or json_schema")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None:
        return JsonExpectation()
    return JsonExpectation(_validator(schema))


def _validator(schema: Any) -> Validator:
    if not isinstance(schema, dict):
        raise InvalidInputError("response_format.json_schema.schema must be a JSON Schema (an object)")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidInputError(
            f"response_format.json_schema.schema is not a valid JSON Schema: at {error.json_path}: "
            f"{_short(error.message)}"
        ) from None
    except RecursionError:
        raise InvalidInputError("response_format.json_schema.schema is nested too deeply") from None
    validator: Validator = cls(schema)
    return validator


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
