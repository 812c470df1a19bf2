"""The server-side plan: faults scripted per model name, so one fake serves many scenarios at once.

`plan.set("a", ["503", "503"])` makes the next two calls to model `a` fail with 503; later calls
succeed (or suffer `then`, when given). A plan for model `*` serves every model without one of its own.
A request carrying an `X-Fake-Fault` header uses that instead and leaves the plan untouched.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from aifactory.testing.faults import NO_FAULTS, Faults, parse_faults

__all__ = ["ANY_MODEL", "Plan"]

ANY_MODEL = "*"


@dataclass(slots=True)
class _Script:
    steps: deque[Faults]
    then: Faults
    reply: str | None


class Plan:
    """Per-model queues of faults, consumed one per call; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, _Script] = {}

    def set(
        self,
        model: str,
        faults: Iterable[str | None] = (),
        *,
        then: str | None = None,
        reply: str | None = None,
    ) -> None:
        """Replace `model`'s script: `faults` for the next calls (`None` = a normal answer), then `then`.

        `reply`, when given, is the text every answer for `model` carries instead of the echo.
        """
        script = _Script(deque(parse_faults(spec) for spec in faults), parse_faults(then), reply)
        with self._lock:
            self._scripts[model] = script

    def next(self, model: str | None) -> tuple[Faults, str | None]:
        """The faults and reply for the next call to `model`, consuming one step of its script."""
        if not self._scripts:  # the hot path: nothing planned, no lock
            return NO_FAULTS, None
        with self._lock:
            script = self._scripts.get(model or ANY_MODEL) or self._scripts.get(ANY_MODEL)
            if script is None:
                return NO_FAULTS, None
            faults = script.steps.popleft() if script.steps else script.then
            return faults, script.reply

    def pending(self, model: str) -> int:
        """How many scripted steps `model` has left (not counting `then`)."""
        with self._lock:
            script = self._scripts.get(model)
            return len(script.steps) if script else 0

    def clear(self) -> None:
        """Forget every script."""
        with self._lock:
            self._scripts.clear()
