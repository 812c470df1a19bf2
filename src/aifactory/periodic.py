"""`Periodic`: a daemon thread that does one piece of work every few seconds until it is stopped.

A failure is logged and the work runs again at the next interval: background work (the change
feed's poll, the payload purge, writing prompt usage) must outlive a database hiccup.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """Calls `work` every `interval` seconds on a thread named `name` (never when `interval` is 0)."""

    def __init__(
        self, name: str, interval: float, work: Callable[[], object], *, immediately: bool = False
    ) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self.immediately = immediately
        """Run once as soon as the thread starts, not only after the first interval."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once `stop` was called: long work checks it between steps."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start the thread (again after a stop); nothing when it runs or the interval is 0."""
        if self.interval > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop, letting the work in progress finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        if self.immediately:
            self._once()
        while not self._stop.wait(self.interval):
            self._once()

    def _once(self) -> None:
        try:
            self.work()
        except Exception:
            log.exception("%s failed; trying again in %s s", self.name, self.interval)
