"""The log of requests the fake provider received, so tests can assert what a client really sent."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Call", "CallLog"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a `/v1` route, as the client sent it, and the faults it was given."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case; repeated headers joined with `, `."""
    body: Any
    """The parsed JSON body; the text when it is not JSON; `None` when empty."""
    model: str | None
    fault: str
    """The fault spec applied (`""` for none)."""
    time: float
    """When it arrived (`time.time()`)."""

    def to_json(self) -> dict[str, Any]:
        """The form `GET /_fake/calls` returns."""
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "model": self.model,
            "fault": self.fault,
            "time": self.time,
        }


class CallLog:
    """The most recent calls (a bounded window, so a long benchmark does not grow memory)."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._calls: deque[Call] = deque(maxlen=limit)

    def append(self, call: Call) -> None:
        """Record one call."""
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[Call]:
        """The calls so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._calls.clear()
