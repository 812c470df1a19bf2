"""Extension points of aifactory. Built-ins are plugins too (see `plugins.DEFAULT_PLUGINS`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("aifactory")
hookimpl = pluggy.HookimplMarker("aifactory")


@hookspec
def aifactory_register_gates(register: Callable[[Any], None]) -> None:
    """Register label-move gates (objects with `name` and `unmet(ctx) -> list[str]`)."""


@hookspec
def aifactory_register_permission_policies(register: Callable[[str, str], None]) -> None:
    """Register extra Cedar policy text as `register(source_name, cedar_text)`."""
