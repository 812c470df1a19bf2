"""The plugin manager: built-in plugins plus any package exposing the `aifactory` entry point."""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

from aifactory import hookspecs

__all__ = ["DEFAULT_PLUGINS", "collect", "plugin_manager"]

DEFAULT_PLUGINS: tuple[str, ...] = (
    "aifactory.catalog.builtin",
    "aifactory.evals.builtin",
    "aifactory.gateway.builtin",
    "aifactory.monitoring.builtin",
    "aifactory.policy.builtin",
    "aifactory.policy.pii.builtin",
    "aifactory.prompts.builtin",
)
"""Modules registered as plugins in every process."""


def plugin_manager(*, entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the hookspecs, the built-ins and (optionally) installed plugins."""
    pm = pluggy.PluginManager("aifactory")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if entry_points:
        pm.load_setuptools_entrypoints("aifactory")
    return pm


def collect(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    """Call a `register`-style hook and return what the plugins registered, in order."""
    found: list[Any] = []

    def register(*item: Any) -> None:
        found.append(item[0] if len(item) == 1 else item)

    getattr(pm.hook, hook)(register=register)
    return found
