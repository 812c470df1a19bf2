"""SQL for run records (one per gateway call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select

from aifactory.store.schema import runs

__all__ = ["insert_runs", "run"]


def insert_runs(conn: Connection, values: Sequence[dict[str, Any]]) -> None:
    """Store run records."""
    if values:
        conn.execute(insert(runs), list(values))


def run(conn: Connection, run_id: str) -> RowMapping | None:
    """One run record."""
    return conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
