"""Extension points of aifactory. Built-ins are plugins too (see `plugins.DEFAULT_PLUGINS`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


@hookspec
def aifactory_register_asset_kinds(
    register: Callable[[str, Callable[[dict[str, Any]], object]], None],
) -> None:
    """Register a catalog asset kind's content validator as `register(kind, validate)`."""


@hookspec
def aifactory_register_asset_pinners(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register how a kind pins what its versions include when released, as `register(kind, pin)`."""


@hookspec
def aifactory_register_providers(register: Callable[[str, Any], None]) -> None:
    """Register a model provider as `register(kind, factory)`; factory(name, spec, context) -> Model."""


@hookspec
def aifactory_register_policy_packs(register: Callable[[Path], None]) -> None:
    """Register policy pack YAML files as `register(path)`; `aifactory policy install` adds them, inactive."""


@hookspec
def aifactory_register_tool_policies(register: Callable[[str, str], None]) -> None:
    """Register extra Cedar tool-call policy text as `register(source_name, cedar_text)`."""


@hookspec
def aifactory_register_pii_detectors(register: Callable[[str, Callable[[Any], Any]], None]) -> None:
    """Register a PII detector as `register(name, factory)`; factory(settings) -> Detector."""
