"""Who uses which prompt version: counted in memory on the hot path, written every few seconds.

A resolution costs a dictionary update, never a database write; `flush` (on a thread, before a
retirement check, and at shutdown) adds the counts to `asset_consumers`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from aifactory.periodic import Periodic
from aifactory.store import consumer_rows
from aifactory.store.db import Database

__all__ = ["Consumer", "UsageRecorder"]


@dataclass
class _Count:
    uses: int
    first: datetime
    last: datetime


_Key = tuple[str, int, str, str, str]


@dataclass(frozen=True)
class Consumer:
    """Who resolved a prompt: a key (or the principal when there is none), where and for what."""

    id: str
    environment: str = "default"
    use_case: str = ""


class UsageRecorder:
    """Counts uses per (asset, version, consumer) and writes them in batches."""

    def __init__(self, db: Database, *, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[_Key, _Count] = {}
        self._loop = Periodic("prompt-usage", interval, self.flush)

    def record(self, asset_id: str, version: int, consumer: Consumer) -> None:
        """Count one use, now."""
        key = (asset_id, version, consumer.id, consumer.environment, consumer.use_case)
        now = datetime.now(UTC)
        with self._lock:
            counted = self._pending.get(key)
            if counted is None:
                self._pending[key] = _Count(1, now, now)
            else:
                counted.uses += 1
                counted.last = now

    def flush(self) -> int:
        """Write what was counted; how many (asset, version, consumer) rows were touched. When the
        write fails the counts stay pending for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        uses = [
            {
                "asset_id": k[0],
                "version_number": k[1],
                "consumer": k[2],
                "environment": k[3],
                "use_case": k[4],
                "uses": c.uses,
                "first_seen": c.first,
                "last_seen": c.last,
            }
            for k, c in pending.items()
        ]
        try:
            with self.db.write() as conn:
                consumer_rows.record_uses(conn, uses)
        except Exception:
            self._restore(pending)
            raise
        return len(uses)

    def _restore(self, pending: dict[_Key, _Count]) -> None:
        with self._lock:
            for key, count in pending.items():
                later = self._pending.get(key)
                if later is not None:
                    count = _Count(count.uses + later.uses, count.first, later.last)
                self._pending[key] = count

    def start(self) -> None:
        """Flush every `interval` seconds on a thread."""
        self._loop.start()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        self._loop.stop()
        self.flush()
