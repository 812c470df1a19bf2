"""Built-in prompts plugin: the `prompt` asset kind, validated (templates compiled, include refs
checked) when a version is pushed, and pinned (what it includes, by content hash) when released."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.prompts.pinning import pin
from aifactory.prompts.snapshot import KIND
from aifactory.prompts.spec import parse_spec

__all__ = ["KIND"]


@hookimpl
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """A prompt version's content must be a valid PromptSpec whose templates compile."""
    register(KIND, parse_spec)


@hookimpl
def aifactory_register_asset_pinners(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """A released prompt version serves the includes it was released with, by content hash."""
    register(KIND, pin)
