"""Built-in policy plugin: the `policy-pack` and `tool` asset kinds and the packs shipped with
aifactory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.policy.active import PACK_KIND
from aifactory.policy.packs import PackSpec
from aifactory.policy.tool_specs import KIND as TOOL_KIND
from aifactory.policy.tool_specs import ToolSpec

__all__ = ["BUILTIN_PACKS", "PACK_DIR"]

PACK_DIR = Path(__file__).parent / "builtin_packs"
"""Where the built-in pack files live."""

BUILTIN_PACKS = (
    "baseline",
    "eu-ai-act",
    "gdpr-residency",
    "colorado-sb26-189",
    "colorado-sb24-205",
    "california-sb53",
)
"""The built-in packs, by name (each is `PACK_DIR/<name>.yaml`)."""


@hookimpl
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """Policy packs and registered tools are validated when a version is pushed."""
    register(PACK_KIND, PackSpec.model_validate)
    register(TOOL_KIND, ToolSpec.model_validate)


@hookimpl
def aifactory_register_policy_packs(register: Callable[[Path], None]) -> None:
    """The built-in packs (`aifactory policy install` registers them, inactive)."""
    for name in BUILTIN_PACKS:
        register(PACK_DIR / f"{name}.yaml")
