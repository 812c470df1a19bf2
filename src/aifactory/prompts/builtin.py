"""Built-in prompts plugin: the `prompt` asset kind, validated (templates compiled, include refs
checked) when a version is pushed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.prompts.spec import parse_spec

__all__ = ["KIND"]

KIND = "prompt"
"""The catalog kind of prompt assets."""


@hookimpl
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """A prompt version's content must be a valid PromptSpec whose templates compile."""
    register(KIND, parse_spec)
