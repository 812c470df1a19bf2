"""The sequencer: gives queued events contiguous indices, grows the tree, signs checkpoints.

Many writers, one order: a database sequence has gaps, a Merkle tree may not. Writers only enqueue;
one sequencer at a time (an advisory lock on PostgreSQL, the write lock on SQLite) takes a batch,
appends it to the tree and commits the leaves, the new nodes, the new state and the queue deletions
in one transaction.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy import Connection

from aifactory.ledger.events import leaf_bytes
from aifactory.ledger.merkle import EMPTY_ROOT, Frontier, leaf_hash
from aifactory.ledger.note import Checkpoint, NoteSigner
from aifactory.store import ledger_rows as rows
from aifactory.store.db import Database

__all__ = ["Sequencer"]

log = logging.getLogger(__name__)

_SEQUENCER_LOCK = "aifactory.ledger.sequencer"
_CHECKPOINT_LOCK = "aifactory.ledger.checkpoint"


class _RaceLostError(Exception):
    """Another sequencer integrated first; the planned batch is void."""


def _plan(
    queued: list[tuple[int, str]], frontier: Frontier, size: int
) -> tuple[list[tuple[int, bytes]], list[tuple[tuple[int, int], bytes]]]:
    """The leaves and new tree nodes for queued events appended at `size` (grows `frontier`)."""
    leaves: list[tuple[int, bytes]] = []
    nodes: list[tuple[tuple[int, int], bytes]] = []
    for offset, (_qid, event) in enumerate(queued):
        leaf = leaf_bytes(event, size + offset)
        leaves.append((size + offset, leaf))
        nodes.extend(frontier.append(leaf_hash(leaf)))
    return leaves, nodes


class Sequencer:
    """Integrates queued events into the tree and signs checkpoints."""

    def __init__(
        self, db: Database, signer: NoteSigner, origin: str, *, batch_size: int, interval: float
    ) -> None:
        self.db = db
        self.signer = signer
        self.origin = origin
        self.batch_size = batch_size
        self.interval = interval
        self._frontier: Frontier | None = None
        self._not_due_before = 0.0
        """Monotonic time before which no checkpoint can be due: the newest one seen is younger
        than the interval. Saves two reads a pass while entries stream in."""

    def integrate(self) -> int:
        """Sequence one batch of queued events; returns how many were integrated."""
        while True:
            try:
                return self._integrate()
            except _RaceLostError:
                continue  # another sequencer moved first: plan again from the new state
            except BaseException:
                self._frontier = None
                raise

    def integrate_all(self) -> int:
        """Sequence until the queue is empty."""
        total = 0
        while n := self.integrate():
            total += n
        return total

    def _integrate(self) -> int:
        # Plan outside the write lock (hashing is the slow part), then commit only if nobody else
        # changed the tree or took these events meanwhile.
        with self.db.read() as conn:
            queued = rows.take_queued(conn, self.batch_size)
            if not queued:
                return 0
            state = rows.read_state(conn)
            size = state[0] if state else 0
            frontier = self._frontier_at(conn, size)
        leaves, nodes = _plan(queued, frontier, size)
        # Not flushed at commit: the queued events are durable, and the checkpoint that publishes
        # this batch is a durable commit that flushes it first.
        with self.db.write(durable=False) as conn:
            self.db.lock(conn, _SEQUENCER_LOCK)
            current = rows.read_state(conn)
            if (current[0] if current else 0) != size:
                self._frontier = None
                raise _RaceLostError
            if rows.delete_queued(conn, [qid for qid, _ in queued]) != len(queued):
                raise _RaceLostError
            rows.insert_entries(conn, leaves)
            rows.insert_nodes(conn, nodes)
            rows.write_state(conn, frontier.size, frontier.root(), exists=current is not None)
        self._frontier = frontier
        return len(queued)

    def _frontier_at(self, conn: Connection, size: int) -> Frontier:
        """A copy of the right edge at `size` (cached from the last batch, else read from storage)."""
        cached = self._frontier
        if cached is None or cached.size != size:
            # Another replica grew the tree, or this is the first batch: reload the right edge.
            cached = Frontier.from_nodes(size, rows.DbNodes(conn))
            self._frontier = cached
        return Frontier(cached.size, cached.hashes)

    def _checkpoint_due(self) -> bool:
        """Whether the tree grew and the interval passed (a cheap read, no write lock)."""
        if time.monotonic() < self._not_due_before:
            return False
        with self.db.read() as conn:
            state = rows.read_state(conn)
            latest = rows.latest_checkpoint(conn)
        if latest is None:
            return True
        age = (datetime.now(UTC) - latest[3]).total_seconds()
        self._not_due_before = time.monotonic() + self.interval - age
        grown = state is not None and state[0] > latest[0]
        return grown and age >= self.interval

    def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Sign a checkpoint of the current tree if it grew (and `interval` has passed, unless forced).

        Returns the new checkpoint, or None when none was due.
        """
        if not force and not self._checkpoint_due():
            return None
        with self.db.write() as conn:
            if not self.db.try_lock(conn, _CHECKPOINT_LOCK):
                return None
            state = rows.read_state(conn)
            size, root = state if state else (0, EMPTY_ROOT)
            latest = rows.latest_checkpoint(conn)
            if latest is not None:
                if latest[0] >= size:
                    return None
                age = (datetime.now(UTC) - latest[3]).total_seconds()
                if not force and age < self.interval:
                    return None
            checkpoint = Checkpoint(self.origin, size, root)
            rows.insert_checkpoint(conn, size, root, self.signer.sign(checkpoint.body()))
        self._not_due_before = time.monotonic() + self.interval
        log.debug("signed checkpoint at size %d", size)
        return checkpoint
