"""SQL for run payloads and their data keys (see `aifactory.retention`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aifactory.store.schema import payload_keys, run_payloads

__all__ = [
    "count_due",
    "destroy_keys",
    "due_payloads",
    "insert_keys",
    "insert_payloads",
    "last_erasures",
    "live_subject_keys",
    "payload",
    "secure_delete",
    "shred_payloads",
    "subject_keys",
]

_CHUNK = 900  # below SQLite's bound-parameter limit


def _locked(conn: Connection, query: Select[Any], *, shared: bool = False) -> Select[Any]:
    """Rows locked until the transaction ends (PostgreSQL; a SQLite write transaction is exclusive).
    Shared locks let run writers use one key at once while an erasure of it waits for them."""
    if conn.dialect.name != "postgresql":
        return query
    return query.with_for_update(read=shared)


def live_subject_keys(conn: Connection, subject_hashes: Collection[str]) -> dict[str, tuple[str, bytes]]:
    """subject hash -> (key id, wrapped key) of each subject's live key, held against erasure."""
    found: dict[str, tuple[str, bytes]] = {}
    hashes = sorted(subject_hashes)
    for start in range(0, len(hashes), _CHUNK):
        query = select(payload_keys.c.subject_hash, payload_keys.c.id, payload_keys.c.wrapped_key).where(
            payload_keys.c.subject_hash.in_(hashes[start : start + _CHUNK]),
            payload_keys.c.destroyed_at.is_(None),
        )
        rows = conn.execute(_locked(conn, query, shared=True))
        found.update({r.subject_hash: (r.id, bytes(r.wrapped_key)) for r in rows})
    return found


def last_erasures(conn: Connection, subject_hashes: Collection[str]) -> dict[str, datetime]:
    """subject hash -> when its newest destroyed key was destroyed (subjects never erased are absent)."""
    found: dict[str, datetime] = {}
    hashes = sorted(subject_hashes)
    for start in range(0, len(hashes), _CHUNK):
        query = (
            select(payload_keys.c.subject_hash, func.max(payload_keys.c.destroyed_at))
            .where(
                payload_keys.c.subject_hash.in_(hashes[start : start + _CHUNK]),
                payload_keys.c.destroyed_at.is_not(None),
            )
            .group_by(payload_keys.c.subject_hash)
        )
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found


def insert_keys(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store new data keys; a subject that got a live key from a concurrent writer keeps that one."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(payload_keys).on_conflict_do_nothing(
        index_elements=[payload_keys.c.subject_hash], index_where=payload_keys.c.destroyed_at.is_(None)
    )
    conn.execute(statement, list(rows))


def insert_payloads(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store sealed payloads."""
    if rows:
        conn.execute(insert(run_payloads), list(rows))


def payload(conn: Connection, run_id: str) -> RowMapping | None:
    """A run's payload row with its key's wrapped bytes and destruction time."""
    query = (
        select(run_payloads, payload_keys.c.wrapped_key, payload_keys.c.destroyed_at)
        .join(payload_keys, payload_keys.c.id == run_payloads.c.key_id)
        .where(run_payloads.c.run_id == run_id)
    )
    return conn.execute(query).mappings().first()


def due_payloads(conn: Connection, now: datetime, limit: int) -> list[tuple[str, str, bool]]:
    """(run id, key id, key is per-run) of live payloads past retention, oldest due first, locked so
    that a purge on another replica skips them."""
    query = (
        select(run_payloads.c.run_id, run_payloads.c.key_id, payload_keys.c.subject_hash.is_(None))
        .join(payload_keys, payload_keys.c.id == run_payloads.c.key_id)
        .where(run_payloads.c.purged_at.is_(None), run_payloads.c.retention_until <= now)
        .order_by(run_payloads.c.retention_until, run_payloads.c.run_id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=run_payloads, skip_locked=True)
    return [(r[0], r[1], bool(r[2])) for r in conn.execute(query)]


def count_due(conn: Connection, now: datetime) -> int:
    """How many live payloads are past retention."""
    query = select(func.count()).where(
        run_payloads.c.purged_at.is_(None), run_payloads.c.retention_until <= now
    )
    return int(conn.execute(query).scalar_one())


def shred_payloads(
    conn: Connection, *, now: datetime, reason: str, run_ids: Sequence[str] = (), key_ids: Sequence[str] = ()
) -> int:
    """Delete the ciphertexts of the given runs, or of every live payload under the given keys;
    the rows stay as tombstones (when, why). Returns how many were live."""
    column, values = (run_payloads.c.run_id, run_ids) if run_ids else (run_payloads.c.key_id, key_ids)
    shredded = 0
    for start in range(0, len(values), _CHUNK):
        statement = (
            update(run_payloads)
            .where(column.in_(values[start : start + _CHUNK]), run_payloads.c.purged_at.is_(None))
            .values(nonce=None, ciphertext=None, purged_at=now, purge_reason=reason)
        )
        shredded += conn.execute(statement).rowcount
    return shredded


def destroy_keys(conn: Connection, key_ids: Sequence[str], now: datetime) -> int:
    """Overwrite the given data keys and mark them destroyed."""
    destroyed = 0
    for start in range(0, len(key_ids), _CHUNK):
        statement = (
            update(payload_keys)
            .where(
                payload_keys.c.id.in_(key_ids[start : start + _CHUNK]), payload_keys.c.destroyed_at.is_(None)
            )
            .values(wrapped_key=None, destroyed_at=now)
        )
        destroyed += conn.execute(statement).rowcount
    return destroyed


def subject_keys(conn: Connection, subject_hash: str) -> list[str]:
    """The live key ids of one subject, locked until the transaction ends."""
    query = select(payload_keys.c.id).where(
        payload_keys.c.subject_hash == subject_hash, payload_keys.c.destroyed_at.is_(None)
    )
    return [str(r[0]) for r in conn.execute(_locked(conn, query))]


def secure_delete(conn: Connection) -> None:
    """On SQLite, zero freed content on this connection: an overwritten key leaves no old bytes
    in free pages of the file (PostgreSQL's old row versions go at the next VACUUM)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
