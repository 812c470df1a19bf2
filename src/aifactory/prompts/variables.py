"""The JSON Schemas of a prompt (draft 2020-12): checked when a version is pushed, applied to the
variables before every render.

Only local `$ref`s (`#/...`) are allowed: validating never fetches anything over the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry

from aifactory.errors import PromptVariablesError

__all__ = ["check_schema", "validate_variables"]

_MAX_PROBLEMS = 10


def check_schema(schema: Mapping[str, Any]) -> None:
    """A ValueError unless `schema` is a valid draft 2020-12 schema whose `$ref`s are all local."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(map(str, exc.path))
        at = f" at {where}" if where else ""
        raise ValueError(f"not a valid JSON Schema (draft 2020-12){at}: {exc.message}") from None
    remote = sorted(ref for ref in _refs(schema) if not ref.startswith("#"))
    if remote:
        raise ValueError(f"only local $refs (#/...) are allowed, not {', '.join(map(repr, remote))}")


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in ("$ref", "$dynamicRef") and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def validate_variables(schema: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
    """Raise PromptVariablesError naming each path where `variables` breaks `schema`."""
    validator = Draft202012Validator(schema, registry=Registry())
    try:
        errors = sorted(validator.iter_errors(dict(variables)), key=_order)
    except RecursionError:
        raise PromptVariablesError("variables: nested too deeply to check") from None
    if errors:
        problems = [_problem(error) for error in errors[:_MAX_PROBLEMS]]
        raise PromptVariablesError("; ".join(problems), errors=problems)


def _order(error: ValidationError) -> tuple[list[str], str]:
    return [str(part) for part in error.absolute_path], error.message


def _problem(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"variables{path}: {error.message}"
