"""Differences between two prompt versions, as a unified diff of a stable YAML rendering."""

from __future__ import annotations

import difflib

from aifactory.prompts._yaml import dump_yaml, ordered
from aifactory.prompts.spec import PromptSpec

__all__ = ["diff", "to_yaml"]


def to_yaml(spec: PromptSpec) -> str:
    """A stable, readable YAML rendering of a spec: fixed key order, templates as literal blocks."""
    return dump_yaml(ordered(spec.content()))


def diff(a: PromptSpec, b: PromptSpec, a_name: str, b_name: str) -> str:
    """A unified diff from `a` to `b` (headers `--- a_name` and `+++ b_name`); empty when equal."""
    lines = difflib.unified_diff(
        to_yaml(a).splitlines(keepends=True),
        to_yaml(b).splitlines(keepends=True),
        fromfile=a_name,
        tofile=b_name,
    )
    return "".join(lines)
