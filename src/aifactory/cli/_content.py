"""Reading an asset version's content from a JSON or YAML file (or `-` for stdin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from aifactory.errors import InvalidInputError

__all__ = ["read_content"]


def _text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


def read_content(path: str) -> dict[str, Any]:
    """The content object a file holds: JSON when it ends in `.json`, YAML (a superset) otherwise."""
    text = _text(path)
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        syntax = "JSON" if path.endswith(".json") else "YAML"
        raise InvalidInputError(f"{path} is not valid {syntax}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} must hold one object (a mapping), not {type(data).__name__}")
    return data
