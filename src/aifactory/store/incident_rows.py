"""SQL for incidents on assets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from aifactory.store.schema import incidents

__all__ = ["incident", "incidents_list", "insert_incident", "open_incidents", "resolve_incident"]


def insert_incident(conn: Connection, values: dict[str, Any]) -> None:
    """Open an incident."""
    conn.execute(insert(incidents).values(**values))


def incident(conn: Connection, incident_id: str) -> RowMapping | None:
    """One incident."""
    return conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()


def incidents_list(
    conn: Connection, asset_id: str | None = None, status: str | None = None, limit: int = 100
) -> Sequence[RowMapping]:
    """Incidents, newest first, optionally of one asset and in one status."""
    query = select(incidents)
    if asset_id is not None:
        query = query.where(incidents.c.asset_id == asset_id)
    if status is not None:
        query = query.where(incidents.c.status == status)
    query = query.order_by(incidents.c.opened_at.desc(), incidents.c.id.desc()).limit(limit)
    return conn.execute(query).mappings().all()


def open_incidents(conn: Connection, asset_id: str) -> Sequence[RowMapping]:
    """The open incidents of an asset, oldest first."""
    query = (
        select(incidents)
        .where(incidents.c.asset_id == asset_id, incidents.c.status == "open")
        .order_by(incidents.c.opened_at, incidents.c.id)
    )
    return conn.execute(query).mappings().all()


def resolve_incident(conn: Connection, incident_id: str, actor: str, at: datetime, resolution: str) -> bool:
    """Resolve an open incident; False when it is not open."""
    query = (
        update(incidents)
        .where(incidents.c.id == incident_id, incidents.c.status == "open")
        .values(status="resolved", resolved_by=actor, resolved_at=at, resolution=resolution)
    )
    return conn.execute(query).rowcount == 1
