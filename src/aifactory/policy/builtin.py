"""Built-in policy plugin: the `tool` asset kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.policy.tool_specs import KIND, ToolSpec


@hookimpl
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """Registered tools are validated when a version is pushed."""
    register(KIND, ToolSpec.model_validate)
