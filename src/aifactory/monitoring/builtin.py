"""Built-in monitoring plugin: the `no-open-incident` gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.hookspecs import hookimpl
from aifactory.monitoring.gate import NoOpenIncidentGate


@hookimpl
def aifactory_register_gates(register: Callable[[Any], None]) -> None:
    """Register the no-open-incident gate (no label move while the asset has an open incident)."""
    register(NoOpenIncidentGate())
