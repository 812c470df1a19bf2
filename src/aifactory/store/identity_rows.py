"""SQL for teams, principals and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from aifactory.store.schema import api_keys, principals, teams

__all__ = [
    "active_keys",
    "insert_key",
    "insert_principal",
    "insert_team",
    "key",
    "keys",
    "principal",
    "principals_list",
    "revoke_key",
    "set_limits",
    "team",
    "team_limits",
    "teams_list",
]


def insert_team(conn: Connection, values: dict[str, Any]) -> None:
    """Add a team."""
    conn.execute(insert(teams).values(**values))


def team(conn: Connection, id_or_name: str) -> RowMapping | None:
    """A team by id or name."""
    query = select(teams).where((teams.c.id == id_or_name) | (teams.c.name == id_or_name))
    return conn.execute(query).mappings().first()


def teams_list(conn: Connection) -> Sequence[RowMapping]:
    """Every team, by name."""
    return conn.execute(select(teams).order_by(teams.c.name)).mappings().all()


def team_limits(conn: Connection) -> Sequence[RowMapping]:
    """The id, `rpm_limit` and `tpm_limit` of every team that has a limit of its own."""
    query = select(teams.c.id, teams.c.rpm_limit, teams.c.tpm_limit).where(
        teams.c.rpm_limit.is_not(None) | teams.c.tpm_limit.is_not(None)
    )
    return conn.execute(query).mappings().all()


def set_limits(conn: Connection, kind: str, row_id: str, values: dict[str, int | None]) -> None:
    """Set `rpm_limit` and/or `tpm_limit` of a key (`kind` "key") or a team ("team")."""
    table = api_keys if kind == "key" else teams
    conn.execute(update(table).where(table.c.id == row_id).values(**values))


def insert_principal(conn: Connection, values: dict[str, Any]) -> None:
    """Add a person or app."""
    conn.execute(insert(principals).values(**values))


def principal(conn: Connection, id_or_name: str) -> RowMapping | None:
    """A principal by id or name."""
    query = select(principals).where((principals.c.id == id_or_name) | (principals.c.name == id_or_name))
    return conn.execute(query).mappings().first()


def principals_list(conn: Connection) -> Sequence[RowMapping]:
    """Every principal, by name."""
    return conn.execute(select(principals).order_by(principals.c.name)).mappings().all()


def insert_key(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new API key's hash and metadata."""
    conn.execute(insert(api_keys).values(**values))


def key(conn: Connection, key_id: str) -> RowMapping | None:
    """An API key row by id or prefix."""
    query = select(api_keys).where((api_keys.c.id == key_id) | (api_keys.c.prefix == key_id))
    return conn.execute(query).mappings().first()


def keys(conn: Connection, principal_id: str | None = None) -> Sequence[RowMapping]:
    """API keys, all or one principal's, newest first."""
    query = select(api_keys).order_by(api_keys.c.created_at.desc())
    if principal_id is not None:
        query = query.where(api_keys.c.principal_id == principal_id)
    return conn.execute(query).mappings().all()


def revoke_key(conn: Connection, key_id: str, at: datetime) -> bool:
    """Mark a key revoked; False when it was already revoked."""
    result = conn.execute(
        update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
    )
    return result.rowcount == 1


def active_keys(conn: Connection) -> Sequence[RowMapping]:
    """Unrevoked keys of enabled principals (with their own limits), joined with the principal's
    name, kind, roles, team."""
    query = (
        select(
            api_keys.c.id,
            api_keys.c.prefix,
            api_keys.c.key_hash,
            api_keys.c.expires_at,
            api_keys.c.rpm_limit,
            api_keys.c.tpm_limit,
            principals.c.id.label("principal_id"),
            principals.c.name.label("principal_name"),
            principals.c.kind,
            principals.c.roles,
            principals.c.team_id,
        )
        .join(principals, principals.c.id == api_keys.c.principal_id)
        .where(api_keys.c.revoked_at.is_(None), principals.c.disabled_at.is_(None))
    )
    return conn.execute(query).mappings().all()
