"""SQL for the ledger: the queue of accepted events, sequenced leaves, tree nodes, checkpoints."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Table, any_, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from aifactory.store.schema import (
    ledger_checkpoints,
    ledger_entries,
    ledger_nodes,
    ledger_queue,
    ledger_state,
)

__all__ = [
    "DbNodes",
    "QueuedEvent",
    "StoredCheckpoint",
    "checkpoints",
    "count_queued",
    "delete_queued",
    "enqueue",
    "entries",
    "entry",
    "insert_checkpoint",
    "insert_entries",
    "insert_nodes",
    "iter_entries",
    "iter_nodes",
    "latest_checkpoint",
    "read_state",
    "take_queued",
    "write_state",
]

QueuedEvent = tuple[int, str]
StoredCheckpoint = tuple[int, bytes, str]


def enqueue(conn: Connection, events: Sequence[str]) -> None:
    """Durably accept events (canonical JSON text) in the caller's transaction."""
    now = datetime.now(UTC)
    _bulk_insert(conn, ledger_queue, ("event", "enqueued_at"), [(e, now) for e in events])


def take_queued(conn: Connection, limit: int) -> list[QueuedEvent]:
    """The oldest accepted events not yet sequenced."""
    rows = conn.execute(
        select(ledger_queue.c.id, ledger_queue.c.event).order_by(ledger_queue.c.id).limit(limit)
    )
    return [(r[0], r[1]) for r in rows]


def delete_queued(conn: Connection, ids: Sequence[int]) -> int:
    """Remove events that have been sequenced (same transaction as their insertion in the tree).

    Returns how many were deleted: fewer than asked means another sequencer took some first.
    """
    if conn.dialect.name == "postgresql":
        condition = ledger_queue.c.id == any_(literal(list(ids), ARRAY(BigInteger)))
        return conn.execute(delete(ledger_queue).where(condition)).rowcount
    deleted = 0
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        deleted += conn.execute(delete(ledger_queue).where(ledger_queue.c.id.in_(chunk))).rowcount
    return deleted


def count_queued(conn: Connection) -> int:
    """How many accepted events wait for the sequencer."""
    return int(conn.execute(select(func.count()).select_from(ledger_queue)).scalar_one())


def read_state(conn: Connection) -> tuple[int, bytes] | None:
    """The current tree size and root, or None before the first sequencing."""
    row = conn.execute(select(ledger_state.c.size, ledger_state.c.root).where(ledger_state.c.id == 1)).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def write_state(conn: Connection, size: int, root: bytes, *, exists: bool) -> None:
    """Record the new tree size and root."""
    if exists:
        conn.execute(update(ledger_state).where(ledger_state.c.id == 1).values(size=size, root=root))
    else:
        conn.execute(insert(ledger_state).values(id=1, size=size, root=root))


def insert_entries(conn: Connection, leaves: Sequence[tuple[int, bytes]]) -> None:
    """Store sequenced leaves (index, exact leaf bytes)."""
    _bulk_insert(conn, ledger_entries, ("idx", "leaf"), leaves)


def insert_nodes(conn: Connection, nodes: Sequence[tuple[tuple[int, int], bytes]]) -> None:
    """Store hashes of newly completed subtrees."""
    _bulk_insert(conn, ledger_nodes, ("level", "idx", "hash"), [(lv, i, h) for (lv, i), h in nodes])


def _bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows: COPY on PostgreSQL (several times faster than pipelined INSERTs)."""
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in values])
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


class DbNodes:
    """Reads stored subtree hashes in one query, for proofs and the frontier."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """The stored hashes of the given (level, index) subtrees."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        if self.conn.dialect.name == "postgresql":
            return self._nodes_postgres(unique)
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(unique), 200):
            # OR of point lookups: SQLite answers it from the primary key (a row-value IN list scans).
            chunk = unique[start : start + 200]
            condition = or_(*[(ledger_nodes.c.level == lv) & (ledger_nodes.c.idx == i) for lv, i in chunk])
            rows = self.conn.execute(
                select(ledger_nodes.c.level, ledger_nodes.c.idx, ledger_nodes.c.hash).where(condition)
            )
            found.update({(int(r[0]), int(r[1])): bytes(r[2]) for r in rows})
        return found

    def _nodes_postgres(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        # One statement text for any number of keys, so the server plans it once.
        rows = self.conn.exec_driver_sql(
            "SELECT n.level, n.idx, n.hash"
            " FROM unnest(%(levels)s::int[], %(idxs)s::bigint[]) AS k(level, idx)"
            " JOIN ledger_nodes n ON n.level = k.level AND n.idx = k.idx",
            {"levels": [lv for lv, _ in keys], "idxs": [i for _, i in keys]},
        )
        return {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}


def entry(conn: Connection, index: int) -> bytes | None:
    """The leaf bytes at `index`, or None."""
    row = conn.execute(select(ledger_entries.c.leaf).where(ledger_entries.c.idx == index)).first()
    return None if row is None else bytes(row[0])


def entries(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """Leaves with start <= index < end, in index order."""
    rows = conn.execute(
        select(ledger_entries.c.idx, ledger_entries.c.leaf)
        .where(ledger_entries.c.idx >= start, ledger_entries.c.idx < end)
        .order_by(ledger_entries.c.idx)
    )
    return [(int(r[0]), bytes(r[1])) for r in rows]


def iter_entries(conn: Connection, chunk: int = 10_000) -> Iterator[tuple[int, bytes]]:
    """Every stored leaf in index order, as stored (gaps and all), read in chunks."""
    after = -1
    while True:
        rows = conn.execute(
            select(ledger_entries.c.idx, ledger_entries.c.leaf)
            .where(ledger_entries.c.idx > after)
            .order_by(ledger_entries.c.idx)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            yield int(r[0]), bytes(r[1])
        after = int(rows[-1][0])


def iter_nodes(conn: Connection, level: int, chunk: int = 10_000) -> Iterator[tuple[int, bytes]]:
    """Every stored node of one level in index order."""
    after = -1
    while True:
        rows = conn.execute(
            select(ledger_nodes.c.idx, ledger_nodes.c.hash)
            .where(ledger_nodes.c.level == level, ledger_nodes.c.idx > after)
            .order_by(ledger_nodes.c.idx)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            yield int(r[0]), bytes(r[1])
        after = int(rows[-1][0])


def insert_checkpoint(conn: Connection, size: int, root: bytes, note: str) -> None:
    """Store a signed checkpoint."""
    conn.execute(
        insert(ledger_checkpoints).values(size=size, root=root, note=note, created_at=datetime.now(UTC))
    )


def latest_checkpoint(conn: Connection) -> tuple[int, bytes, str, datetime] | None:
    """The newest signed checkpoint: size, root, note, when."""
    row = conn.execute(
        select(
            ledger_checkpoints.c.size,
            ledger_checkpoints.c.root,
            ledger_checkpoints.c.note,
            ledger_checkpoints.c.created_at,
        )
        .order_by(ledger_checkpoints.c.size.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]), row[3])


def checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    """Every stored checkpoint, smallest tree first."""
    rows = conn.execute(
        select(ledger_checkpoints.c.size, ledger_checkpoints.c.root, ledger_checkpoints.c.note).order_by(
            ledger_checkpoints.c.size
        )
    )
    return [(int(r[0]), bytes(r[1]), str(r[2])) for r in rows]
