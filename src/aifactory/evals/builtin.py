"""Built-in evals plugin: the `eval-record` gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifactory.evals.gate import EvalRecordGate
from aifactory.hookspecs import hookimpl


@hookimpl
def aifactory_register_gates(register: Callable[[Any], None]) -> None:
    """Register the eval-record gate (a passing, verifiable eval record of the exact content)."""
    register(EvalRecordGate())
