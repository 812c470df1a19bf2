"""The trace of one gateway call: every attempt on every deployment, for the run record and metrics."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Attempt", "CallTrace", "current_trace"]


@dataclass
class Attempt:
    """One try on one deployment."""

    deployment: str
    outcome: str  # "ok", or the error class name
    latency_ms: float
    retry_after: float | None = None

    def as_json(self) -> dict[str, object]:
        """The attempt as stored in the run record."""
        return {
            "deployment": self.deployment,
            "outcome": self.outcome,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass
class CallTrace:
    """What happened during one call: attempts in order, the deployment that answered, timings."""

    started: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    deployment: str | None = None
    upstream_model: str | None = None
    first_token_at: float | None = None

    @property
    def fallbacks(self) -> int:
        """How many times the call moved on to another deployment."""
        seen: list[str] = []
        for attempt in self.attempts:
            if not seen or seen[-1] != attempt.deployment:
                seen.append(attempt.deployment)
        return max(0, len(seen) - 1)

    def elapsed_ms(self) -> float:
        """Milliseconds since the call started."""
        return (time.perf_counter() - self.started) * 1000

    def ttft_ms(self) -> float | None:
        """Milliseconds to the first content token (streams only)."""
        return None if self.first_token_at is None else (self.first_token_at - self.started) * 1000


current_trace: ContextVar[CallTrace | None] = ContextVar("aifactory_call_trace", default=None)
"""The trace of the call in progress (set by the gateway; wrappers append attempts to it)."""
