"""SQL for asset consumers: who resolved which version, per environment and use case."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select
from sqlalchemy.dialects import postgresql, sqlite

from aifactory.store.schema import asset_consumers

__all__ = ["consumers_of", "recent_consumers", "record_uses", "use_cases_of"]

_KEY = ("asset_id", "version_number", "consumer", "environment", "use_case")


def record_uses(conn: Connection, uses: Iterable[dict[str, Any]]) -> None:
    """Add counted uses (each with the key columns, `first_seen`, `last_seen`, `uses`)."""
    rows = list(uses)
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(asset_consumers).values(rows)
    table = asset_consumers.c
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                "uses": table.uses + statement.excluded.uses,
                "last_seen": func.max(table.last_seen, statement.excluded.last_seen)
                if conn.dialect.name == "sqlite"
                else func.greatest(table.last_seen, statement.excluded.last_seen),
            },
        )
    )


def consumers_of(conn: Connection, asset_id: str, version: int | None = None) -> Sequence[RowMapping]:
    """Every consumer of an asset (or of one version), most recently seen first."""
    query = select(asset_consumers).where(asset_consumers.c.asset_id == asset_id)
    if version is not None:
        query = query.where(asset_consumers.c.version_number == version)
    return conn.execute(query.order_by(asset_consumers.c.last_seen.desc())).mappings().all()


def recent_consumers(conn: Connection, asset_id: str, version: int, since: datetime) -> Sequence[RowMapping]:
    """Consumers that used one version at or after `since`."""
    query = select(asset_consumers).where(
        asset_consumers.c.asset_id == asset_id,
        asset_consumers.c.version_number == version,
        asset_consumers.c.last_seen >= since,
    )
    return conn.execute(query.order_by(asset_consumers.c.last_seen.desc())).mappings().all()


def use_cases_of(conn: Connection, asset_ids: Sequence[str]) -> dict[str, list[str]]:
    """The named use cases that used each asset (asset id -> sorted use cases)."""
    if not asset_ids:
        return {}
    query = (
        select(asset_consumers.c.asset_id, asset_consumers.c.use_case)
        .where(asset_consumers.c.asset_id.in_(asset_ids), asset_consumers.c.use_case != "")
        .distinct()
    )
    found: dict[str, list[str]] = {}
    for asset_id, use_case in conn.execute(query):
        found.setdefault(str(asset_id), []).append(str(use_case))
    return {k: sorted(v) for k, v in found.items()}
