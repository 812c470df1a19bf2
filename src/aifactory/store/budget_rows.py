"""SQL for budgets, and for the spend of a budget's subject over a window, summed from `runs`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, RowMapping, cast, func, insert, select, update

from aifactory.store.schema import budgets, runs

__all__ = ["budget", "budgets_list", "disable_budget", "enabled_budget", "insert_budget", "spent"]

_SUBJECT_COLUMN = {"key": runs.c.key_id, "team": runs.c.team_id, "use_case": runs.c.use_case}
_SQLITE_SCALE = 10**10  # cost_usd has 10 decimal places


def insert_budget(conn: Connection, values: dict[str, Any]) -> None:
    """Add a budget."""
    conn.execute(insert(budgets).values(**values))


def budget(conn: Connection, budget_id: str) -> RowMapping | None:
    """One budget by id."""
    return conn.execute(select(budgets).where(budgets.c.id == budget_id)).mappings().first()


def enabled_budget(conn: Connection, scope: str, subject: str, window: str) -> RowMapping | None:
    """The enabled budget of a subject over a kind of window, if there is one (at most one is)."""
    query = select(budgets).where(
        budgets.c.scope == scope,
        budgets.c.subject == subject,
        budgets.c.window == window,
        budgets.c.disabled_at.is_(None),
    )
    return conn.execute(query).mappings().first()


def budgets_list(conn: Connection, *, include_disabled: bool = False) -> Sequence[RowMapping]:
    """Budgets by scope, subject and window; enabled ones only unless asked."""
    query = select(budgets).order_by(budgets.c.scope, budgets.c.subject, budgets.c.window)
    if not include_disabled:
        query = query.where(budgets.c.disabled_at.is_(None))
    return conn.execute(query).mappings().all()


def disable_budget(conn: Connection, budget_id: str, at: datetime) -> bool:
    """Mark a budget disabled; False when it was already disabled (or does not exist)."""
    result = conn.execute(
        update(budgets)
        .where(budgets.c.id == budget_id, budgets.c.disabled_at.is_(None))
        .values(disabled_at=at)
    )
    return result.rowcount == 1


def spent(conn: Connection, scope: str, subject: str, start: datetime, end: datetime) -> Decimal:
    """The recorded cost of a key's, team's or use case's runs in [start, end), exactly.

    Runs with an unknown price (NULL cost) add nothing. SQLite keeps NUMERIC as a binary float, so
    there each cost is first rounded back to its 10 stored decimals as an integer and the integers
    are summed: a float sum would drift.
    """
    column = _SUBJECT_COLUMN[scope]
    where = (column == subject, runs.c.created_at >= start, runs.c.created_at < end)
    if conn.dialect.name == "sqlite":
        scaled = cast(func.round(runs.c.cost_usd * _SQLITE_SCALE), BigInteger)
        total = conn.execute(select(func.sum(scaled)).where(*where)).scalar()
        return Decimal(0) if total is None else Decimal(int(total)).scaleb(-10)
    exact = conn.execute(select(func.sum(runs.c.cost_usd)).where(*where)).scalar()
    return Decimal(0) if exact is None else Decimal(exact)
