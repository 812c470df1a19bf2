"""YAML as prompt files and diffs write it: stable key order, multi-line strings as literal blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["TOP_LEVEL_ORDER", "dump_yaml", "ordered"]

TOP_LEVEL_ORDER = (
    "name",
    "description",
    "critical",
    "tags",
    "model",
    "variables",
    "response_format",
    "tools",
    "messages",
    "text",
)
"""Top-level keys in reading order: what it is, how it runs, then the templates."""

_FIRST = ("name", "role", "type", "route", "description")
# Line breaks other than "\n", which a YAML reader folds or turns into "\n" unless escaped; strings
# holding them are double-quoted, which keeps them exactly.
_LINE_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings as literal blocks where YAML allows it."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(c in value for c in _LINE_BREAKS):
        style: str | None = '"'  # the one style in which PyYAML escapes them
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def ordered(value: Any, top: tuple[str, ...] = TOP_LEVEL_ORDER) -> Any:
    """`value` with every mapping's keys in a stable order: `top` for the outermost mapping, then
    name, role, type, route and description first and the rest sorted, all the way down."""
    if isinstance(value, Mapping):
        first = top if top else _FIRST
        keys = sorted(value, key=lambda k: (first.index(k) if k in first else len(first), str(k)))
        return {key: ordered(value[key], ()) for key in keys}
    if isinstance(value, list):
        return [ordered(item, ()) for item in value]
    return value


def dump_yaml(data: Mapping[str, Any]) -> str:
    """YAML text of `data` in the given key order, Unicode kept, never folded."""
    return yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 16,
        default_flow_style=False,
    )
