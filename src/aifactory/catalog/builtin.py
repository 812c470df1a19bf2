"""Built-in catalog plugin: the approval gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.catalog.gates import ApprovalGate
from aifactory.hookspecs import hookimpl


@hookimpl
def aifactory_register_gates(register: Callable[[Any], None]) -> None:
    """Register the approval gate (a second person, two for critical assets)."""
    register(ApprovalGate())
