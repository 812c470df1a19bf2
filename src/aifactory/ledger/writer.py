"""The group-commit writer: many callers, one transaction per batch, acknowledged when durable.

A call returns only after the transaction holding its event has committed (with SQLite
`synchronous=FULL` or PostgreSQL's default `synchronous_commit`, that means on disk). Nothing is
acknowledged from a memory-only buffer: if the process dies, an event is either committed or its
caller saw an error or no answer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from aifactory.ledger.events import Event
from aifactory.store import ledger_rows as rows
from aifactory.store.db import Database

__all__ = ["GroupCommitWriter"]

log = logging.getLogger(__name__)

_Item = tuple[str, "Future[None]"]


class GroupCommitWriter:
    """Batches concurrent appends into few durable transactions on a dedicated thread."""

    def __init__(
        self, db: Database, *, batch_size: int, on_commit: Callable[[], None] = lambda: None
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.on_commit = on_commit
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def is_running(self) -> bool:
        """Whether the writer thread is accepting events."""
        return self._thread is not None

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, event: Event) -> Future[None]:
        """Queue an event; the future resolves when it is durably accepted."""
        if self._thread is None:
            raise RuntimeError("the ledger writer is not running")
        future: Future[None] = Future()
        self._queue.put((event.to_json(), future))
        return future

    def append(self, event: Event, timeout: float = 30.0) -> None:
        """Durably accept an event (blocking)."""
        self.submit(event).result(timeout)

    async def append_async(self, event: Event) -> None:
        """Durably accept an event without blocking the event loop."""
        await asyncio.wrap_future(self.submit(event))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._drain(first)
            self._commit(batch)
            if stop:
                return

    def _drain(self, first: _Item) -> tuple[list[_Item], bool]:
        batch = [first]
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, batch: list[_Item]) -> None:
        try:
            with self.db.write() as conn:
                rows.enqueue(conn, [event for event, _ in batch])
        except Exception as exc:
            log.exception("ledger group commit of %d events failed", len(batch))
            for _, future in batch:
                future.set_exception(exc)
            return
        for _, future in batch:
            future.set_result(None)
        self.on_commit()
