"""Group commit: many callers, one transaction per batch, each acknowledged when it is durable.

A call returns only after the transaction holding its item has committed (with SQLite
`synchronous=FULL` or PostgreSQL's default `synchronous_commit`, that means on disk). Nothing is
acknowledged from a memory-only buffer: if the process dies, an item is either committed or its
caller saw an error or no answer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy import Connection

from aifactory.store.db import Database

__all__ = ["GroupCommitWriter"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class GroupCommitWriter(Generic[T]):
    """Batches concurrent writes into few durable transactions on a dedicated thread.

    `sink(conn, items)` writes one batch inside the transaction; the writer owns the transaction.
    """

    def __init__(
        self,
        db: Database,
        sink: Callable[[Connection, Sequence[T]], None],
        *,
        batch_size: int,
        name: str = "group-commit",
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.sink = sink
        self.batch_size = batch_size
        self.name = name
        self.on_commit = on_commit
        self._queue: queue.Queue[tuple[T, Future[None]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def is_running(self) -> bool:
        """Whether the writer thread is accepting items."""
        return self._thread is not None

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, item: T) -> Future[None]:
        """Queue an item; the future resolves when it is durably written."""
        if self._thread is None:
            raise RuntimeError(f"the {self.name} writer is not running")
        future: Future[None] = Future()
        self._queue.put((item, future))
        return future

    def write(self, item: T, timeout: float = 30.0) -> None:
        """Durably write an item (blocking)."""
        self.submit(item).result(timeout)

    async def write_async(self, item: T) -> None:
        """Durably write an item without blocking the event loop."""
        await asyncio.wrap_future(self.submit(item))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._drain(first)
            self._commit(batch)
            if stop:
                return

    def _drain(self, first: tuple[T, Future[None]]) -> tuple[list[tuple[T, Future[None]]], bool]:
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

    def _commit(self, batch: list[tuple[T, Future[None]]]) -> None:
        try:
            with self.db.write() as conn:
                self.sink(conn, [item for item, _ in batch])
        except Exception as exc:
            log.exception("%s: group commit of %d items failed", self.name, len(batch))
            for _, future in batch:
                if not future.done():  # a waiter that gave up (cancelled) needs no answer
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        self.on_commit()
