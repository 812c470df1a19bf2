"""SQL for kill switches: the ones set now, one row per scope and value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select

from aifactory.store.schema import kill_switches

__all__ = ["delete_switch", "put_switch", "switch", "switches"]


def switch(conn: Connection, scope: str, value: str) -> RowMapping | None:
    """The switch set on one scope and value, if any."""
    query = select(kill_switches).where(kill_switches.c.scope == scope, kill_switches.c.value == value)
    return conn.execute(query).mappings().first()


def switches(conn: Connection) -> Sequence[RowMapping]:
    """Every switch set now, by scope and value."""
    query = select(kill_switches).order_by(kill_switches.c.scope, kill_switches.c.value)
    return conn.execute(query).mappings().all()


def put_switch(conn: Connection, values: dict[str, Any]) -> None:
    """Set a switch (replacing the one on the same scope and value)."""
    delete_switch(conn, values["scope"], values["value"])
    conn.execute(insert(kill_switches).values(**values))


def delete_switch(conn: Connection, scope: str, value: str) -> bool:
    """Clear a switch; False when none was set."""
    query = delete(kill_switches).where(kill_switches.c.scope == scope, kill_switches.c.value == value)
    return conn.execute(query).rowcount == 1
