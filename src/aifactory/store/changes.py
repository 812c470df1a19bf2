"""The change feed: one counter per topic, bumped in the writing transaction, polled by replicas."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from aifactory.store.schema import changes

__all__ = ["bump", "versions"]


def bump(conn: Connection, topic: str) -> None:
    """Record that something under `topic` changed (commits with the caller's transaction)."""
    result = conn.execute(
        update(changes).where(changes.c.topic == topic).values(version=changes.c.version + 1)
    )
    if result.rowcount == 0:
        conn.execute(insert(changes).values(topic=topic, version=1))


def versions(conn: Connection) -> dict[str, int]:
    """The current version of every topic."""
    return {str(r[0]): int(r[1]) for r in conn.execute(select(changes.c.topic, changes.c.version))}
